"""What a run costs in history events, pinned on recorded runs (`make record-histories`
records them; tests/integration/test_history_costs.py checks that today's code still writes
exactly these events).

Targets: a plain run at most 12 events, one tool round at most 25, each further round at most
12; on top of them this release's version patch (`THREAD_IN_WORKFLOW_TASK`) costs 2 events in
every new execution (its marker and the TemporalChangeVersion search attribute the SDK upserts
with it) until the patch is removed. The Assistants API run also creates its thread before the
run (an interrupted create-and-run could not be found again: the API lists no threads), in a
local activity: one marker event. `lean_history_*` are the same runs recorded by the release
before (`LEAN_HISTORY`, the thread in an activity of its own); they only replay."""

from __future__ import annotations

import pytest

from tests.replay.events import event_kinds, recorded

VERSION_PATCH_EVENTS = 2
PLAIN, ONE_ROUND, FURTHER_ROUND = 12, 25, 12


def events(backend: str, scenario: str) -> list[str]:
    return event_kinds(recorded(f"history_{backend}_{scenario}"))


@pytest.mark.parametrize("backend", ["responses", "assistants"])
def test_a_run_pays_for_its_version_patch_once(backend: str) -> None:
    kinds = events(backend, "three_rounds")
    thread_marker = 1 if backend == "assistants" else 0
    assert kinds.count("marker_recorded") == 1 + thread_marker
    assert kinds.count("upsert_workflow_search_attributes") == 2  # the patch's and the end's


def test_a_plain_responses_run_stays_within_its_target() -> None:
    assert len(events("responses", "plain")) <= PLAIN + VERSION_PATCH_EVENTS


def test_a_responses_run_with_one_tool_round_stays_within_its_target() -> None:
    assert len(events("responses", "one_round")) <= ONE_ROUND + VERSION_PATCH_EVENTS


@pytest.mark.parametrize("backend", ["responses", "assistants"])
def test_each_further_tool_round_costs_at_most_twelve_events(backend: str) -> None:
    further = len(events(backend, "three_rounds")) - len(events(backend, "one_round"))
    assert further <= 2 * FURTHER_ROUND


@pytest.mark.parametrize("backend", ["responses", "assistants"])
def test_a_tool_round_is_its_tools_and_one_submission(backend: str) -> None:
    """No describe step, no expiry timer, no search attribute per round."""
    kinds = events(backend, "one_round")
    assert "activity_task_scheduled:tools.describe" not in kinds
    assert "timer_started" not in kinds
    steps = [kind.split(":")[1] for kind in kinds if ":" in kind]
    assert steps == ["run.start", "tool.get_weather", "run.submit_tool_outputs"]


def test_a_plain_run_on_the_assistants_api_costs_one_marker_for_its_thread() -> None:
    assistants, responses = events("assistants", "plain"), events("responses", "plain")
    assert len(assistants) == len(responses) + 1
    first_task = assistants[: assistants.index("activity_task_scheduled:run.start")]
    assert first_task.count("marker_recorded") == 2  # the patch's and the thread's


def test_a_run_of_the_release_before_created_its_thread_in_an_activity() -> None:
    kinds = event_kinds(recorded("lean_history_assistants_plain"))
    assert "activity_task_scheduled:run.create_thread" in kinds
    assert len(kinds) == len(events("assistants", "plain")) + 5
