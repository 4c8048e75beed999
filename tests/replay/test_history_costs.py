"""What a run costs in history events, pinned on recorded runs (`make record-histories`
records them; tests/integration/test_history_costs.py checks that today's code still writes
exactly these events).

Targets: a plain run at most 12 events, one tool round at most 25, each further round at most
12. A run records no version marker. The Assistants API run also creates its thread before the
run (an interrupted create-and-run could not be found again: the API lists no threads), in a
local activity: one marker event."""

from __future__ import annotations

import pytest

from tests.replay.events import event_kinds, recorded

PLAIN, ONE_ROUND, FURTHER_ROUND = 12, 25, 12


def events(backend: str, scenario: str) -> list[str]:
    return event_kinds(recorded(f"history_{backend}_{scenario}"))


@pytest.mark.parametrize("backend", ["responses", "assistants"])
def test_a_new_run_records_no_version_marker_and_upserts_once_at_its_end(backend: str) -> None:
    kinds = events(backend, "three_rounds")
    thread_marker = 1 if backend == "assistants" else 0
    assert kinds.count("marker_recorded") == thread_marker
    assert kinds.count("upsert_workflow_search_attributes") == 1
    assert kinds[-2:] == ["upsert_workflow_search_attributes", "workflow_execution_completed"]


def test_a_plain_responses_run_stays_within_its_target() -> None:
    assert len(events("responses", "plain")) <= PLAIN


@pytest.mark.parametrize("backend", ["responses", "assistants"])
def test_a_run_with_one_tool_round_stays_within_its_target(backend: str) -> None:
    assert len(events(backend, "one_round")) <= ONE_ROUND


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
    assert first_task.count("marker_recorded") == 1
