"""The response engine's transitions, on a clock the test moves by hand."""

from __future__ import annotations

import json
from typing import Any

import pytest

from emulator import response_engine, vector_stores
from emulator.config import Timings
from emulator.conversations import conversations, items_of
from emulator.errors import APIError
from emulator.model import SearchHit
from emulator.spec import schema_validator
from emulator.store import JSON, Entry, Store
from tests.unit.conftest import START, Clock

TIMINGS = Timings(queued=1.0, in_progress=2.0)
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "strict": True,
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@pytest.fixture
def store(clock: Clock) -> Store:
    return Store(clock=clock)


def create(store: Store, text: str | list[JSON], **request: Any) -> Entry:
    body = {"model": "gpt-4o", "input": text, **request}
    return response_engine.create_response(store, body, {}, TIMINGS)


def status_at(store: Store, clock: Clock, entry: Entry, seconds: float) -> str:
    clock.now = START + seconds
    response_engine.advance(store, entry)
    status: str = entry.public["status"]
    return status


def events(entry: Entry) -> list[JSON]:
    return [json.loads(data.split(b"data: ", 1)[1]) for _, data in entry.private.events]


def names(entry: Entry) -> list[str]:
    return [name for name, _ in entry.private.events]


def outputs_for(entry: Entry, output: str) -> list[JSON]:
    return [
        {"type": "function_call_output", "call_id": item["call_id"], "output": output}
        for item in entry.public["output"]
        if item["type"] == "function_call"
    ]


def text_of(entry: Entry) -> str:
    message = next(item for item in entry.public["output"] if item["type"] == "message")
    text: str = message["content"][0]["text"]
    return text


def test_background_response_moves_through_its_phases_at_exact_times(
    store: Store, clock: Clock
) -> None:
    response = create(store, "Hello", background=True)
    assert status_at(store, clock, response, 0.99) == "queued"
    assert status_at(store, clock, response, 1.0) == "in_progress"
    assert status_at(store, clock, response, 2.99) == "in_progress"
    assert "usage" not in response.public
    assert status_at(store, clock, response, 3.0) == "completed"
    assert response.public["completed_at"] == START + 3
    assert response.public["usage"]["total_tokens"] > 0
    assert response_engine.next_change_at(response) == float("inf")


def test_a_late_look_applies_every_transition_at_the_time_it_was_due(
    store: Store, clock: Clock
) -> None:
    response = create(store, "Hello", background=True)
    assert status_at(store, clock, response, 500.0) == "completed"
    assert response.public["completed_at"] == START + 3
    deltas = names(response).count("response.output_text.delta")
    assert deltas > 1
    assert names(response) == [
        "response.created",
        "response.queued",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * deltas,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event["sequence_number"] for event in events(response)] == list(
        range(len(names(response)))
    )


def test_every_event_matches_the_spec(store: Store, clock: Clock) -> None:
    validator = schema_validator("ResponseStreamEvent")
    calls = create(store, "Weather in Paris", tools=[WEATHER])
    status_at(store, clock, calls, 3.0)
    answer = create(store, outputs_for(calls, "sunny"), previous_response_id=calls.public["id"])
    status_at(store, clock, answer, 6.0)
    for event in events(calls) + events(answer):
        assert not list(validator.iter_errors(event)), event["type"]


def test_a_waiting_response_is_in_progress_for_the_whole_model_time(
    store: Store, clock: Clock
) -> None:
    response = create(store, "Hello")
    assert names(response) == ["response.created", "response.in_progress"]
    assert status_at(store, clock, response, 2.99) == "in_progress"
    assert status_at(store, clock, response, 3.0) == "completed"
    assert 'You said: "Hello"' in text_of(response)


def test_a_tool_request_completes_with_calls_and_the_next_response_answers(
    store: Store, clock: Clock
) -> None:
    calls = create(store, "What is the weather in Paris?", tools=[WEATHER])
    status_at(store, clock, calls, 3.0)
    [call] = calls.public["output"]
    assert (call["type"], call["name"], json.loads(call["arguments"])) == (
        "function_call",
        "get_weather",
        {"city": "Paris"},
    )
    assert "function_call_arguments.done" in " ".join(names(calls))

    answer = create(
        store, outputs_for(calls, "sunny"), previous_response_id=calls.public["id"], tools=[WEATHER]
    )
    assert status_at(store, clock, answer, 6.0) == "completed"
    assert "get_weather returned sunny" in text_of(answer)
    assert store.counters.snapshot()["function_call_outputs_received"] == {
        "total": 1,
        call["call_id"]: 1,
    }


def test_then_splits_the_calls_into_one_round_per_response(store: Store, clock: Clock) -> None:
    response = create(store, "Weather in Paris, then weather in Rome", tools=[WEATHER])
    cities = []
    for elapsed in (3.0, 6.0):
        status_at(store, clock, response, elapsed)
        cities.append([json.loads(c["arguments"])["city"] for c in response.public["output"]])
        response = create(
            store,
            outputs_for(response, "ok"),
            tools=[WEATHER],
            previous_response_id=response.public["id"],
        )
    assert cities == [["Paris"], ["Rome"]]
    status_at(store, clock, response, 9.0)
    assert text_of(response).count("get_weather returned ok") == 2


def test_outputs_must_answer_exactly_the_pending_calls(store: Store, clock: Clock) -> None:
    calls = create(store, "Weather in Paris", tools=[WEATHER])
    status_at(store, clock, calls, 3.0)
    wrong = [{"type": "function_call_output", "call_id": "call_other", "output": "x"}]
    with pytest.raises(APIError, match="No tool call found for function call output") as error:
        create(store, wrong, previous_response_id=calls.public["id"])
    assert error.value.param == "input"
    with pytest.raises(APIError, match="No tool output found for function call call_"):
        create(store, "never mind", previous_response_id=calls.public["id"])
    assert store.counters.snapshot()["function_call_outputs_rejected"] == {"total": 1}


def test_a_running_response_cannot_be_continued(store: Store, clock: Clock) -> None:
    running = create(store, "Hello", background=True)
    with pytest.raises(APIError, match="is still queued"):
        create(store, "More", previous_response_id=running.public["id"])


def test_cancel_applies_to_active_background_responses_only(store: Store, clock: Clock) -> None:
    response = create(store, "Hello", background=True)
    status_at(store, clock, response, 1.5)
    response_engine.cancel(store, response)
    assert status_at(store, clock, response, 100.0) == "cancelled"
    response_engine.cancel(store, response)
    assert response.public["status"] == "cancelled"

    done = create(store, "Hello", background=True)
    status_at(store, clock, done, 200.0)
    with pytest.raises(APIError, match="Cannot cancel a completed response"):
        response_engine.cancel(store, done)
    waiting = create(store, "Hello")
    with pytest.raises(APIError, match="Cannot cancel a synchronous response"):
        response_engine.cancel(store, waiting)


def test_fail_directive_with_count_fails_only_the_first_responses(
    store: Store, clock: Clock
) -> None:
    text = "Hi [[emulator fail=server_error*1]]"
    failed = create(store, text)
    assert status_at(store, clock, failed, 3.0) == "failed"
    assert failed.public["error"] == {
        "code": "server_error",
        "message": "Sorry, something went wrong.",
    }
    assert names(failed)[-1] == "response.failed"
    retry = create(store, text)
    assert status_at(store, clock, retry, 6.0) == "completed"
    assert "[[emulator" not in text_of(retry)


def test_directive_timings_override_the_server_timings(store: Store, clock: Clock) -> None:
    response = create(store, "Hi [[emulator queued=0 in_progress=10]]", background=True)
    assert status_at(store, clock, response, 0.0) == "in_progress"
    assert status_at(store, clock, response, 9.9) == "in_progress"
    assert status_at(store, clock, response, 10.0) == "completed"


def test_a_long_answer_over_max_output_tokens_is_incomplete(store: Store, clock: Clock) -> None:
    response = create(store, "word " * 400, max_output_tokens=64)
    assert status_at(store, clock, response, 3.0) == "incomplete"
    assert response.public["incomplete_details"] == {"reason": "max_output_tokens"}
    assert response.public["output"][0]["status"] == "incomplete"
    assert response.public["usage"]["output_tokens"] <= 64
    assert names(response)[-1] == "response.incomplete"


@pytest.mark.parametrize(
    "choice", ["none", {"type": "function", "name": "get_time"}], ids=["none", "other"]
)
def test_tool_choice_can_forbid_the_call(store: Store, clock: Clock, choice: Any) -> None:
    response = create(store, "Weather in Paris", tools=[WEATHER], tool_choice=choice)
    status_at(store, clock, response, 3.0)
    assert [item["type"] for item in response.public["output"]] == ["message"]


def test_a_conversation_collects_the_items_of_finished_responses(
    store: Store, clock: Clock
) -> None:
    conversations(store).add("conv_1", {"id": "conv_1", "object": "conversation"})
    failed = create(store, "Hi [[emulator fail=server_error]]", conversation="conv_1")
    status_at(store, clock, failed, 3.0)
    assert items_of(store, "conv_1") == []
    first = create(store, "Weather in Oslo", tools=[WEATHER], conversation="conv_1")
    status_at(store, clock, first, 6.0)
    answer = create(store, outputs_for(first, "cold"), tools=[WEATHER], conversation="conv_1")
    status_at(store, clock, answer, 9.0)
    assert [item["type"] for item in items_of(store, "conv_1")] == [
        "message",
        "function_call",
        "function_call_output",
        "message",
    ]
    assert answer.public["conversation"] == {"id": "conv_1"}


def test_file_search_quotes_and_cites_the_best_hit(
    store: Store, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    hit = SearchHit("file-1", "guide.txt", 0.9, "Returns take 30 days.")
    searched: list[tuple[list[str], str, int]] = []

    def search(_: Store, ids: list[str], query: str, max_results: int = 20) -> list[SearchHit]:
        searched.append((ids, query, max_results))
        return [hit]

    monkeypatch.setattr(vector_stores, "search", search)
    tool = {"type": "file_search", "vector_store_ids": ["vs_1"], "max_num_results": 3}
    response = create(
        store, "How long do returns take?", tools=[tool], include=["file_search_call.results"]
    )
    status_at(store, clock, response, 3.0)
    assert searched == [(["vs_1"], "How long do returns take?", 3)]
    search_call, message = response.public["output"]
    assert search_call["results"][0]["file_id"] == "file-1"
    assert 'According to guide.txt: "Returns take 30 days."' in text_of(response)
    [annotation] = message["content"][0]["annotations"]
    assert (annotation["type"], annotation["filename"]) == ("file_citation", "guide.txt")
    assert not list(schema_validator("Response").iter_errors(response.public))
