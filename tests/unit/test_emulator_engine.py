"""The run engine's transitions, on a clock the test moves by hand."""

from __future__ import annotations

import json

import pytest

from emulator import engine
from emulator.assistants import assistants
from emulator.config import Timings
from emulator.errors import APIError
from emulator.store import Entry, Store
from emulator.thread_data import add_user_message, create_thread, messages, steps, thread_state
from tests.unit.conftest import START, Clock

TIMINGS = Timings(queued=1.0, in_progress=2.0, cancelling=0.5, run_expiry=600.0)
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


@pytest.fixture
def store(clock: Clock) -> Store:
    store = Store(clock=clock)
    assistants(store).add(
        "asst_1",
        {
            "id": "asst_1",
            "model": "gpt-4o",
            "instructions": "be brief",
            "tools": [WEATHER],
            "tool_resources": {},
        },
    )
    return store


def start_run(store: Store, text: str, **request: object) -> Entry:
    thread = create_thread(store)
    add_user_message(store, thread["id"], {"role": "user", "content": text})
    return engine.create_run(
        store, thread["id"], {"assistant_id": "asst_1", **request}, {}, TIMINGS
    )


def _advance_to(store: Store, clock: Clock, entry: Entry, seconds: float) -> str:
    clock.now = START + seconds
    engine.advance(store, entry)
    status: str = entry.public["status"]
    return status


def event_names(entry: Entry) -> list[str]:
    return [name for name, _ in entry.private.events]


def test_queued_then_in_progress_then_completed_at_exact_times(store: Store, clock: Clock) -> None:
    run = start_run(store, "Hello")
    assert _advance_to(store, clock, run, 0.99) == "queued"
    assert _advance_to(store, clock, run, 1.0) == "in_progress"
    assert _advance_to(store, clock, run, 2.99) == "in_progress"
    assert _advance_to(store, clock, run, 3.0) == "completed"
    assert run.public["started_at"] == 1_000_001
    assert run.public["completed_at"] == 1_000_003
    assert run.public["expires_at"] is None
    assert run.public["usage"]["total_tokens"] > 0


def test_a_late_look_applies_every_transition_at_the_time_it_was_due(
    store: Store, clock: Clock
) -> None:
    run = start_run(store, "Hello")
    assert _advance_to(store, clock, run, 500.0) == "completed"
    assert run.public["started_at"] == 1_000_001
    assert run.public["completed_at"] == 1_000_003
    assert event_names(run) == [
        "thread.run.created",
        "thread.run.queued",
        "thread.run.in_progress",
        "thread.run.step.created",
        "thread.run.step.in_progress",
        "thread.message.created",
        "thread.message.in_progress",
        *["thread.message.delta"] * event_names(run).count("thread.message.delta"),
        "thread.message.completed",
        "thread.run.step.completed",
        "thread.run.completed",
    ]


def test_completion_writes_the_answer_to_the_thread_and_frees_it(
    store: Store, clock: Clock
) -> None:
    run = start_run(store, "Hello")
    thread_id = run.public["thread_id"]
    _advance_to(store, clock, run, 3.0)
    answer = messages(store).of(thread_id)[-1].public
    assert answer["role"] == "assistant"
    assert answer["run_id"] == run.public["id"]
    assert "Hello" in answer["content"][0]["text"]["value"]
    assert thread_state(store, thread_id).active_run_id is None


def test_a_tool_request_waits_in_requires_action_until_outputs_arrive(
    store: Store, clock: Clock
) -> None:
    run = start_run(store, "What is the weather in Paris?")
    assert _advance_to(store, clock, run, 3.0) == "requires_action"
    assert _advance_to(store, clock, run, 300.0) == "requires_action"
    calls = run.public["required_action"]["submit_tool_outputs"]["tool_calls"]
    assert [json.loads(c["function"]["arguments"]) for c in calls] == [{"city": "Paris"}]

    engine.submit_tool_outputs(store, run, [{"tool_call_id": calls[0]["id"], "output": "sunny"}])
    assert run.public["status"] == "queued"
    assert run.public["required_action"] is None
    assert _advance_to(store, clock, run, 303.0) == "completed"
    answer = messages(store).of(run.public["thread_id"])[-1].public
    assert "get_weather returned sunny" in answer["content"][0]["text"]["value"]
    step = steps(store).of(run.public["id"])[0].public
    assert step["step_details"]["tool_calls"][0]["function"]["output"] == "sunny"
    assert step["status"] == "completed"


def test_outputs_for_the_wrong_calls_are_rejected_and_counted(store: Store, clock: Clock) -> None:
    run = start_run(store, "What is the weather in Paris?")
    _advance_to(store, clock, run, 3.0)
    with pytest.raises(APIError, match="Expected tool outputs for call_ids"):
        engine.submit_tool_outputs(store, run, [{"tool_call_id": "call_other", "output": "x"}])
    assert run.public["status"] == "requires_action"
    assert store.counters.snapshot()["tool_output_submissions"] == {"rejected": 1}


def test_outputs_to_a_run_that_does_not_need_them_are_rejected(store: Store, clock: Clock) -> None:
    run = start_run(store, "Hello")
    _advance_to(store, clock, run, 3.0)
    with pytest.raises(APIError, match='Runs in status "completed" do not accept tool outputs'):
        engine.submit_tool_outputs(store, run, [])


def test_requires_action_expires_at_expires_at(store: Store, clock: Clock) -> None:
    run = start_run(store, "What is the weather in Paris?")
    _advance_to(store, clock, run, 3.0)
    assert _advance_to(store, clock, run, 600.0) == "expired"
    assert run.public["expires_at"] == 1_000_600
    assert run.public["required_action"] is None
    assert steps(store).of(run.public["id"])[0].public["status"] == "expired"
    assert event_names(run)[-2:] == ["thread.run.step.expired", "thread.run.expired"]


@pytest.mark.parametrize("after", [0.5, 1.5, 3.0], ids=["queued", "in_progress", "requires_action"])
def test_cancel_goes_through_cancelling_to_cancelled(
    store: Store, clock: Clock, after: float
) -> None:
    run = start_run(store, "What is the weather in Paris?")
    _advance_to(store, clock, run, after)
    engine.cancel(store, run)
    assert run.public["status"] == "cancelling"
    assert _advance_to(store, clock, run, after + 0.49) == "cancelling"
    assert _advance_to(store, clock, run, after + 0.5) == "cancelled"
    assert run.public["cancelled_at"] == int(START + after + 0.5)


def test_a_finished_run_cannot_be_cancelled(store: Store, clock: Clock) -> None:
    run = start_run(store, "Hello")
    _advance_to(store, clock, run, 3.0)
    with pytest.raises(APIError, match="Cannot cancel run with status 'completed'"):
        engine.cancel(store, run)


def test_fail_directive_with_count_fails_only_the_first_runs(store: Store, clock: Clock) -> None:
    run = start_run(store, "Hi [[emulator fail=server_error*1]]")
    assert _advance_to(store, clock, run, 3.0) == "failed"
    assert run.public["last_error"]["code"] == "server_error"
    retry = engine.create_run(
        store, run.public["thread_id"], {"assistant_id": "asst_1"}, {}, TIMINGS
    )
    clock.now += 3.0
    engine.advance(store, retry)
    assert retry.public["status"] == "completed"


def test_directive_timings_override_the_server_timings(store: Store, clock: Clock) -> None:
    run = start_run(store, "Hi [[emulator queued=0 in_progress=10]]")
    assert _advance_to(store, clock, run, 0.0) == "in_progress"
    assert _advance_to(store, clock, run, 9.9) == "in_progress"
    assert _advance_to(store, clock, run, 10.0) == "completed"


def test_a_long_answer_over_max_completion_tokens_is_incomplete(store: Store, clock: Clock) -> None:
    run = start_run(store, "word " * 400, max_completion_tokens=256)
    assert _advance_to(store, clock, run, 3.0) == "incomplete"
    assert run.public["incomplete_details"] == {"reason": "max_completion_tokens"}
    assert run.public["usage"]["completion_tokens"] <= 256


def test_then_splits_the_tool_calls_into_rounds(store: Store, clock: Clock) -> None:
    run = start_run(store, "Weather in Paris, then weather in Rome")
    rounds = []
    for elapsed in (3.0, 6.0):
        assert _advance_to(store, clock, run, elapsed) == "requires_action"
        calls = run.public["required_action"]["submit_tool_outputs"]["tool_calls"]
        rounds.append([json.loads(c["function"]["arguments"])["city"] for c in calls])
        engine.submit_tool_outputs(
            store, run, [{"tool_call_id": c["id"], "output": "ok"} for c in calls]
        )
    assert rounds == [["Paris"], ["Rome"]]
    assert _advance_to(store, clock, run, 9.0) == "completed"


def test_without_parallel_tool_calls_each_call_gets_its_own_round(
    store: Store, clock: Clock
) -> None:
    run = start_run(store, "Weather in Paris and London", parallel_tool_calls=False)
    _advance_to(store, clock, run, 3.0)
    assert len(run.public["required_action"]["submit_tool_outputs"]["tool_calls"]) == 1
