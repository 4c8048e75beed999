"""Live progress: followers see the answer as it is written, each tool call as it starts and
ends, and the end, exactly once and in order, on both backends, also across a worker killed
mid-answer; followers add nothing to the run's history."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from emulator.config import FaultRule
from workers.client import follow, follow_conversation, send_message
from workers.settings import Settings
from workflows.contracts import RunResult, ThreadConfig
from workflows.run.progress import (
    PhaseChanged,
    ProgressEvent,
    RunEnded,
    TextDelta,
    TextDone,
    ToolFinished,
    ToolStarted,
)
from workflows.run.workflow import AssistantRun

from .conftest import Assistant, Counters, Seen, ask, both_backends, spawn_worker, start, until

LONG = " ".join(f"word{i}" for i in range(60))
"""A question whose answer (the emulator repeats it) streams in about 15 deltas."""
SLOW = "[[emulator delta_interval=0.04]]"


async def followed(client: Client, workflow_id: str, from_offset: int = 0) -> list[ProgressEvent]:
    return [event async for event in follow(client, workflow_id, from_offset=from_offset)]


def text_of(events: list[ProgressEvent]) -> str:
    return "".join(e.delta for e in events if isinstance(e, TextDelta))


def assert_well_formed(events: list[ProgressEvent], result: RunResult) -> None:
    """Offsets 0..n-1, the text exactly once (each message's deltas join to its text.done),
    and one run.ended, last."""
    assert [e.offset for e in events] == list(range(len(events)))
    done = {e.message_id: e.text for e in events if isinstance(e, TextDone)}
    for message_id, text in done.items():
        deltas = [e for e in events if isinstance(e, TextDelta) and e.message_id == message_id]
        assert "".join(e.delta for e in deltas) == text
    assert "\n\n".join(done.values()) == result.output_text
    ended = [e for e in events if isinstance(e, RunEnded)]
    assert ended == [events[-1]]
    assert ended[0].status == result.status


@both_backends
async def test_a_follower_sees_the_answer_written_once_in_order_and_the_end(
    client: Client, task_queue: str, worker: None, assistant: Assistant
) -> None:
    handle = await start(client, task_queue, ask(assistant, f"{SLOW} {LONG}"))
    events = await followed(client, handle.id)
    result = await handle.result()
    assert_well_formed(events, result)
    assert LONG in text_of(events)
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert len(deltas) >= 3, "the text arrives in batches while it is written, not at the end"
    assert isinstance(events[-1], RunEnded)
    assert events[-1].result == result
    phases = [e.phase.value for e in events if isinstance(e, PhaseChanged)]
    assert phases[0] == "creating"
    assert phases[-1] == "completed"


@both_backends
async def test_a_late_follower_reads_the_same_events_from_offset_0_or_any_offset(
    client: Client, task_queue: str, worker: None, assistant: Assistant
) -> None:
    handle = await start(client, task_queue, ask(assistant, f"{SLOW} {LONG}"))
    live = await followed(client, handle.id)
    await handle.result()
    assert await followed(client, handle.id) == live
    assert await followed(client, handle.id, from_offset=3) == live[3:]
    assert await followed(client, handle.id, from_offset=len(live)) == []


@both_backends
async def test_tool_calls_appear_as_they_start_and_finish_before_the_answer(
    client: Client, task_queue: str, worker: None, assistant: Assistant
) -> None:
    handle = await start(client, task_queue, ask(assistant, "weather in Paris and London"))
    events = await followed(client, handle.id)
    result = await handle.result()
    assert_well_formed(events, result)
    started = [e for e in events if isinstance(e, ToolStarted)]
    finished = [e for e in events if isinstance(e, ToolFinished)]
    assert sorted(e.name for e in started) == ["get_weather", "get_weather"]
    assert {e.call_id for e in finished} == {e.call_id for e in started}
    assert all(e.error is None and e.attempts == 1 for e in finished)
    assert sorted("Paris" in e.output for e in finished) == [False, True]
    last_finished = max(e.offset for e in finished)
    assert max(e.offset for e in started) < last_finished
    first_text = min(e.offset for e in events if isinstance(e, TextDelta))
    assert last_finished < first_text


@both_backends
async def test_ten_followers_add_nothing_to_the_history(
    client: Client, task_queue: str, worker: None, assistant: Assistant
) -> None:
    async def history(handle: WorkflowHandle[AssistantRun, RunResult]) -> list[int]:
        return [e.event_type for e in (await handle.fetch_history()).events]

    quiet = await start(client, task_queue, ask(assistant, LONG, stream=False))
    await quiet.result()
    followed_handle = await start(client, task_queue, ask(assistant, LONG, stream=False))
    all_events = await asyncio.gather(*(followed(client, followed_handle.id) for _ in range(10)))
    result = await followed_handle.result()
    assert len(await history(followed_handle)) == len(await history(quiet))
    assert all(events == all_events[0] for events in all_events)
    assert_well_formed(all_events[0], result)

    streamed = await start(client, task_queue, ask(assistant, f"{SLOW} {LONG}"))
    await asyncio.gather(*(followed(client, streamed.id) for _ in range(10)))
    kinds = await history(streamed)
    assert EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED not in kinds
    signals = kinds.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)
    assert 1 <= signals <= 12, "one signal per batch of text, never one per delta or follower"


@both_backends
async def test_without_streaming_the_text_arrives_whole_and_no_signal_is_sent(
    client: Client, task_queue: str, worker: None, assistant: Assistant
) -> None:
    handle = await start(client, task_queue, ask(assistant, f"{SLOW} {LONG}", stream=False))
    result = await handle.result()
    events = await followed(client, handle.id)
    assert_well_formed(events, result)
    assert len([e for e in events if isinstance(e, TextDelta)]) == 1
    kinds = [e.event_type for e in (await handle.fetch_history()).events]
    assert EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED not in kinds


@both_backends
async def test_a_worker_killed_mid_answer_leaves_followers_with_the_exact_text(
    client: Client,
    task_queue: str,
    settings: Settings,
    temporal_address: str,
    assistant: Assistant,
    worker_process: list[subprocess.Popen[bytes]],
) -> None:
    worker_process.append(spawn_worker(settings, temporal_address))
    timeouts = {"heartbeat_seconds": 1.0, "api_initial_retry_seconds": 0.1}
    slow = "[[emulator delta_interval=0.1]]"
    handle = await start(client, task_queue, ask(assistant, f"{slow} {LONG}", timeouts=timeouts))
    events: list[ProgressEvent] = []
    async for event in follow(client, handle.id):
        events.append(event)
        if isinstance(event, TextDelta) and worker_process[0].poll() is None:
            worker_process[0].kill()  # mid-answer: the first batch of text has arrived
            worker_process[0].wait()
            worker_process.append(spawn_worker(settings, temporal_address))
    result = await asyncio.wait_for(handle.result(), timeout=60)
    assert result.status == "completed"
    assert_well_formed(events, result)
    assert await followed(client, handle.id) == events


@both_backends
async def test_a_cancelled_run_ends_its_progress_cancelled(
    client: Client, task_queue: str, worker: None, assistant: Assistant, seen: Seen
) -> None:
    slow = "[[emulator in_progress=30]]"
    handle = await start(client, task_queue, ask(assistant, f"{slow} {LONG}"))
    following = asyncio.create_task(followed(client, handle.id))
    await seen.until_run_created(handle)
    await handle.execute_update(AssistantRun.cancel)
    events = await asyncio.wait_for(following, timeout=30)
    assert_well_formed(events, await handle.result())
    phases = [e.phase.value for e in events if isinstance(e, PhaseChanged)]
    assert "cancelling" in phases
    assert phases[-1] == "cancelled"
    assert isinstance(events[-1], RunEnded)
    assert events[-1].status == "cancelled"


@both_backends
async def test_a_run_that_fails_ends_its_progress_with_the_error(
    client: Client, task_queue: str, worker: None, assistant: Assistant
) -> None:
    handle = await start(client, task_queue, ask(assistant, "hi", tools=["no_such_tool"]))
    events = await followed(client, handle.id)
    assert isinstance(events[-1], RunEnded)
    assert events[-1].status == "failed"
    assert "no_such_tool" in (events[-1].error or "")


async def test_following_an_unknown_run_is_not_found(client: Client) -> None:
    with pytest.raises(RPCError) as raised:
        await followed(client, "run-that-never-was")
    assert raised.value.status == RPCStatusCode.NOT_FOUND


@both_backends
async def test_following_a_conversation_follows_its_next_runs(
    client: Client, task_queue: str, worker: None, assistant: Assistant, backend: str
) -> None:
    key = f"follow-{task_queue}"
    target = {"assistant_id": assistant} if isinstance(assistant, str) else {"assistant": assistant}
    config = ThreadConfig.model_validate({"key": key, **target, "idle_timeout_seconds": 30})
    first = await send_message(client, task_queue, config, "first question")
    seen: list[tuple[str, ProgressEvent]] = []

    async def watch() -> None:
        async for run_id, event in follow_conversation(client, key):
            seen.append((run_id, event))
            if isinstance(event, RunEnded) and run_id.endswith("/run-3"):
                return

    watcher = asyncio.create_task(watch())
    second = await send_message(client, task_queue, config, "second question")
    third = await send_message(client, task_queue, config, "third question")
    await asyncio.wait_for(watcher, timeout=30)
    runs = sorted({run_id for run_id, _ in seen})
    assert runs[-2:] == [f"thread-{key}/run-2", f"thread-{key}/run-3"]
    for run_id, result in [(runs[-2], second), (runs[-1], third)]:
        events = [event for rid, event in seen if rid == run_id]
        assert_well_formed(events, result)
    assert first.status == "completed"


@both_backends
async def test_a_stream_dropped_mid_answer_is_resumed_without_repeating_text(
    client: Client,
    task_queue: str,
    worker: None,
    assistant: Assistant,
    faults: Callable[..., None],
    counters: Counters,
    backend: str,
) -> None:
    creates = r"^POST /v1/(responses|threads/[^/]+/runs)$"
    faults(FaultRule(drop="stream", after_events=12, times=1, route=creates))
    timeouts = {"heartbeat_seconds": 1.0, "api_initial_retry_seconds": 0.05}
    handle = await start(client, task_queue, ask(assistant, f"{SLOW} {LONG}", timeouts=timeouts))
    events = await followed(client, handle.id)
    result = await handle.result()
    assert counters.delta("faults_injected", "drop_stream") == 1
    if backend == "responses":  # the retry read the same stream on, from where it was
        assert counters.delta("response_streams_resumed") == 1
    assert result.status == "completed"
    assert_well_formed(events, result)
    assert LONG in text_of(events)


@both_backends
async def test_a_run_started_again_after_a_failure_streams_its_answer_once(
    client: Client, task_queue: str, worker: None, assistant: Assistant
) -> None:
    request = ask(assistant, f"{SLOW} {LONG} [[emulator fail=server_error*1]]", max_run_attempts=2)
    handle = await start(client, task_queue, request)
    events = await followed(client, handle.id)
    result = await handle.result()
    assert result.run_attempts == 2
    assert_well_formed(events, result)
    assert any(
        isinstance(e, PhaseChanged) and e.details.startswith("starting again after") for e in events
    )


@both_backends
async def test_a_run_past_its_deadline_ends_its_progress_expired(
    client: Client, task_queue: str, worker: None, assistant: Assistant
) -> None:
    request = ask(assistant, f"[[emulator in_progress=30]] {LONG}", deadline_seconds=1)
    events = await followed(client, (await start(client, task_queue, request)).id)
    assert isinstance(events[-1], RunEnded)
    assert events[-1].status == "expired"
    assert [e.phase.value for e in events if isinstance(e, PhaseChanged)][-1] == "expired"


async def test_a_terminated_run_ends_its_followers_without_a_last_event(
    client: Client, task_queue: str, worker: None, assistant_id: str
) -> None:
    handle = await start(
        client, task_queue, ask(assistant_id, f"[[emulator in_progress=30]] {LONG}")
    )
    following = asyncio.create_task(followed(client, handle.id))
    await until(handle, lambda state: state.run_attempts == 1)
    await handle.terminate("an operator stopped it")
    events = await asyncio.wait_for(following, timeout=30)
    assert events
    assert not any(isinstance(e, RunEnded) for e in events)
    assert [e.offset for e in events] == list(range(len(events)))
