"""Runs and run steps through the official SDK: polling and streaming helpers, raw stream
events validated against the spec, the errors applications meet."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx2 as httpx
import openai
import pytest
from openai import AsyncOpenAI, OpenAI
from openai.types.beta import Assistant, Thread
from openai.types.beta.threads import Run

from emulator.server import BackgroundEmulator
from tests.conformance.conftest import assert_schema
from tests.conformance.sse import parse_events
from tests.conformance.test_assistants import WEATHER

POLL_MS = 10


@pytest.fixture
def assistant(client: OpenAI) -> Assistant:
    return client.beta.assistants.create(model="gpt-4o", name="runs", tools=[WEATHER])


def thread_with(client: OpenAI, text: str) -> Thread:
    return client.beta.threads.create(messages=[{"role": "user", "content": text}])


def answer_of(client: OpenAI, run: Run) -> str:
    page = client.beta.threads.messages.list(run.thread_id, run_id=run.id)
    text: str = page.data[0].content[0].text.value  # type: ignore[union-attr]
    return text


def submit_all(client: OpenAI, run: Run, output: str) -> Run:
    assert run.required_action is not None
    calls = run.required_action.submit_tool_outputs.tool_calls
    return client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id,
        thread_id=run.thread_id,
        poll_interval_ms=POLL_MS,
        tool_outputs=[{"tool_call_id": call.id, "output": output} for call in calls],
    )


def test_plain_run_completes_with_an_answer(client: OpenAI, assistant: Assistant) -> None:
    thread = thread_with(client, "Hello there")
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=POLL_MS
    )
    assert run.status == "completed"
    assert run.usage is not None
    assert run.usage.total_tokens > 0
    assert run.completed_at is not None
    assert run.started_at is not None
    assert "Hello there" in answer_of(client, run)


def test_tool_round_trip_with_parallel_calls(client: OpenAI, assistant: Assistant) -> None:
    thread = thread_with(client, "What is the weather in Paris and London?")
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=POLL_MS
    )
    assert run.status == "requires_action"
    assert run.required_action is not None
    calls = run.required_action.submit_tool_outputs.tool_calls
    assert sorted(json.loads(c.function.arguments)["city"] for c in calls) == ["London", "Paris"]

    run = submit_all(client, run, '{"conditions": "sunny"}')
    assert run.status == "completed"
    assert answer_of(client, run).count('get_weather returned {"conditions": "sunny"}') == 2
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc").data
    assert [s.type for s in steps] == ["tool_calls", "message_creation"]
    one = client.beta.threads.runs.steps.retrieve(steps[0].id, thread_id=thread.id, run_id=run.id)
    assert one.status == "completed"


def test_streaming_helper_through_a_tool_round(client: OpenAI, assistant: Assistant) -> None:
    thread = thread_with(client, "What is the weather in Rome?")
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id) as stream:
        stream.until_done()
        run = stream.get_final_run()
    assert run.status == "requires_action"
    assert run.required_action is not None
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    with client.beta.threads.runs.submit_tool_outputs_stream(
        run_id=run.id,
        thread_id=thread.id,
        tool_outputs=[{"tool_call_id": call.id, "output": "warm"}],
    ) as stream:
        text = "".join(stream.text_deltas)
        final = stream.get_final_run()
    assert final.status == "completed"
    assert "get_weather returned warm" in text


def raw_stream(
    emulator: BackgroundEmulator, path: str, body: dict[str, Any]
) -> list[dict[str, Any]]:
    with httpx.stream(
        "POST",
        emulator.base_url + path,
        json={**body, "stream": True},
        headers={"Authorization": "Bearer sk-x", "OpenAI-Beta": "assistants=v2"},
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        return parse_events(response.iter_lines())


def test_every_raw_stream_event_matches_the_spec(
    client: OpenAI, assistant: Assistant, emulator: BackgroundEmulator
) -> None:
    events = raw_stream(
        emulator,
        "/threads/runs",
        {
            "assistant_id": assistant.id,
            "thread": {"messages": [{"role": "user", "content": "Weather in Oslo"}]},
        },
    )
    names = [e["event"] for e in events]
    assert names[:3] == ["thread.created", "thread.run.created", "thread.run.queued"]
    assert names[-2:] == ["thread.run.requires_action", "done"]
    run = events[-2]["data"]
    call_id = run["required_action"]["submit_tool_outputs"]["tool_calls"][0]["id"]
    events += raw_stream(
        emulator,
        f"/threads/{run['thread_id']}/runs/{run['id']}/submit_tool_outputs",
        {"tool_outputs": [{"tool_call_id": call_id, "output": "cold"}]},
    )
    assert events[-2]["event"] == "thread.run.completed"
    assert "thread.message.delta" in [e["event"] for e in events]
    for event in events:
        assert_schema("AssistantStreamEvent", event)


def test_cancel_while_waiting_for_tools(client: OpenAI, assistant: Assistant) -> None:
    thread = thread_with(client, "Weather in Madrid")
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=POLL_MS
    )
    cancelling = client.beta.threads.runs.cancel(run.id, thread_id=thread.id)
    assert cancelling.status == "cancelling"
    final = client.beta.threads.runs.poll(run.id, thread_id=thread.id, poll_interval_ms=POLL_MS)
    assert final.status == "cancelled"
    with pytest.raises(openai.BadRequestError, match="Cannot cancel run with status 'cancelled'"):
        client.beta.threads.runs.cancel(run.id, thread_id=thread.id)


def test_active_run_blocks_messages_and_runs(client: OpenAI, assistant: Assistant) -> None:
    thread = thread_with(client, "Weather in Lima")
    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    with pytest.raises(openai.BadRequestError, match=f"already has an active run {run.id}"):
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    with pytest.raises(openai.BadRequestError, match=f"while a run {run.id} is active"):
        client.beta.threads.messages.create(thread.id, role="user", content="more")


def test_outputs_to_a_completed_run_are_rejected(
    client: OpenAI, assistant: Assistant, counters: Any
) -> None:
    thread = thread_with(client, "Hi")
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=POLL_MS
    )
    before = counters().get("tool_output_submissions", {}).get("rejected", 0)
    with pytest.raises(openai.BadRequestError, match="do not accept tool outputs"):
        client.beta.threads.runs.submit_tool_outputs(
            run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": "call_x", "output": "1"}]
        )
    assert counters()["tool_output_submissions"]["rejected"] == before + 1


def test_short_expiry_from_a_directive(client: OpenAI, assistant: Assistant) -> None:
    thread = thread_with(client, "Weather in Cairo [[emulator expires_in=0.2]]")
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=POLL_MS
    )
    assert run.status == "requires_action"
    time.sleep(0.25)
    expired = client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
    assert expired.status == "expired"
    assert expired.expires_at is not None


def test_failed_run_carries_last_error(client: OpenAI, assistant: Assistant) -> None:
    thread = thread_with(client, "Hi [[emulator fail=rate_limit_exceeded]]")
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=POLL_MS
    )
    assert run.status == "failed"
    assert run.last_error is not None
    assert run.last_error.code == "rate_limit_exceeded"
    assert run.failed_at is not None


def test_run_overrides_and_additional_messages(client: OpenAI, assistant: Assistant) -> None:
    thread = client.beta.threads.create()
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id,
        assistant_id=assistant.id,
        poll_interval_ms=POLL_MS,
        additional_messages=[{"role": "user", "content": "Weather in Kyiv"}],
        tools=[],
        instructions="Override.",
        additional_instructions="More.",
        temperature=0.2,
        metadata={"k": "v"},
    )
    assert run.status == "completed", "no tools on this run, so no tool call"
    assert run.instructions == "Override.\nMore."
    assert (run.temperature, run.metadata, run.tools) == (0.2, {"k": "v"}, [])


def test_list_runs_and_modify(client: OpenAI, assistant: Assistant) -> None:
    thread = thread_with(client, "Hi")
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=POLL_MS
    )
    assert [r.id for r in client.beta.threads.runs.list(thread.id).data] == [run.id]
    updated = client.beta.threads.runs.update(run.id, thread_id=thread.id, metadata={"a": "b"})
    assert updated.metadata == {"a": "b"}


def test_unknown_assistant_is_404_and_creates_nothing(client: OpenAI, counters: Any) -> None:
    thread = client.beta.threads.create()
    with pytest.raises(openai.NotFoundError, match="No assistant found"):
        client.beta.threads.runs.create(
            thread_id=thread.id,
            assistant_id="asst_missing",
            additional_messages=[{"role": "user", "content": "x"}],
        )
    assert client.beta.threads.messages.list(thread.id).data == []
    assert thread.id not in counters().get("runs_created", {})


def test_poll_after_header_is_sent_when_configured(assistant: Assistant) -> None:
    from emulator.config import EmulatorConfig

    with BackgroundEmulator(EmulatorConfig(poll_after_ms=25)) as own:
        sdk = OpenAI(base_url=own.base_url, api_key="sk-x", max_retries=0)
        mine = sdk.beta.assistants.create(model="gpt-4o")
        run = sdk.beta.threads.create_and_run(assistant_id=mine.id)
        raw = sdk.beta.threads.runs.with_raw_response.retrieve(run.id, thread_id=run.thread_id)
        assert raw.headers["openai-poll-after-ms"] == "25"


async def test_async_client_polls_and_streams(aclient: AsyncOpenAI) -> None:
    mine = await aclient.beta.assistants.create(model="gpt-4o", tools=[WEATHER])
    run = await aclient.beta.threads.create_and_run_poll(
        assistant_id=mine.id,
        poll_interval_ms=POLL_MS,
        thread={"messages": [{"role": "user", "content": "Weather in Bern"}]},
    )
    assert run.status == "requires_action"
    assert run.required_action is not None
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    async with aclient.beta.threads.runs.submit_tool_outputs_stream(
        run_id=run.id,
        thread_id=run.thread_id,
        tool_outputs=[{"tool_call_id": call.id, "output": "mild"}],
    ) as stream:
        await stream.until_done()
        final = await stream.get_final_run()
    assert final.status == "completed"
