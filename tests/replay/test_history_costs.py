"""What a run costs in history events, pinned on recorded runs (`make record-histories`
records them; tests/integration/test_history_costs.py checks that today's code still writes
exactly these events).

Targets: a plain run at most 12 events, one tool round at most 25, each further round at most
12; on top of them this release's version patch (`LEAN_HISTORY`) costs 2 events in every new
execution (its marker and the TemporalChangeVersion search attribute the SDK upserts with
it) until the patch is removed. The Assistants API run also creates its thread in a step of
its own (an interrupted create-and-run could not be found again: the API lists no threads)."""

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
    assert kinds.count("marker_recorded") == 1
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
    start = ["run.start"] if backend == "responses" else ["run.create_thread", "run.start"]
    assert steps == [*start, "tool.get_weather", "run.submit_tool_outputs"]


def test_a_plain_run_on_the_assistants_api_costs_its_thread_step() -> None:
    thread_step = 6  # scheduled, started, completed, and the workflow task after it
    assert len(events("assistants", "plain")) == len(events("responses", "plain")) + thread_step
