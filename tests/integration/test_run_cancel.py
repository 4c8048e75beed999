"""Cancel in every phase, the API's expiry, the caller's deadline, and active-run conflicts."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from openai import AsyncOpenAI
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError

from tests.integration.conftest import Counters, ask, run, start
from workflows.contracts import CancelRequest, RunPhase, RunResult, RunState
from workflows.run.workflow import AssistantRun

SLOW_QUEUE = "[[emulator queued=30]]"
Handle = WorkflowHandle[AssistantRun, RunResult]


async def until_counted(counters: Counters, name: str, key: str, at_least: int = 1) -> None:
    """Wait until the emulator has counted `at_least` of `name` for `key` since `counters`."""
    for _ in range(400):
        if counters.delta(name, key) >= at_least:
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"the emulator never counted {name}/{key}")


async def until(handle: Handle, ready: Callable[[RunState], bool]) -> RunState:
    for _ in range(200):
        state = await handle.query(AssistantRun.state)
        if ready(state):
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"never reached the expected state: {state}")


async def test_cancel_while_the_run_is_queued(
    client: Client, task_queue: str, worker: None, assistant_id: str, counters: Counters
) -> None:
    handle = await start(client, task_queue, ask(assistant_id, f"Hello {SLOW_QUEUE}"))
    state = await until(handle, lambda s: s.thread_id is not None)
    assert state.thread_id is not None
    await until_counted(counters, "runs_created", state.thread_id)  # the run is queued
    state = await handle.execute_update(AssistantRun.cancel, CancelRequest(reason="changed mind"))
    assert state.phase == RunPhase.cancelled
    result = await handle.result()
    assert (result.status, result.cancel_reason) == ("cancelled", "changed mind")
    assert result.run_id is not None
    assert counters.delta("runs_cancel_requested") == 1
    assert result.thread_id is not None
    assert counters.of_thread("runs_created", result.thread_id) == 1


async def test_cancel_while_tools_run_cancels_them_and_the_run(
    client: Client, task_queue: str, worker: None, assistant_id: str, openai: AsyncOpenAI
) -> None:
    text = 'call slow_lookup with {"seconds": 20}'
    handle = await start(client, task_queue, ask(assistant_id, text))
    state = await until(handle, lambda s: s.phase == RunPhase.running_tools)
    assert [call.name for call in state.pending_tool_calls] == ["slow_lookup"]
    await handle.execute_update(AssistantRun.cancel, CancelRequest())
    result = await handle.result()
    assert result.status == "cancelled"
    assert result.thread_id is not None
    assert result.run_id is not None
    api_run = await openai.beta.threads.runs.retrieve(result.run_id, thread_id=result.thread_id)
    assert api_run.status == "cancelled"


async def test_workflow_cancellation_cancels_the_run(
    client: Client, task_queue: str, worker: None, assistant_id: str
) -> None:
    handle = await start(client, task_queue, ask(assistant_id, f"Hello {SLOW_QUEUE}"))
    await until(handle, lambda s: s.thread_id is not None)
    await handle.cancel()
    result = await handle.result()
    assert result.status == "cancelled"
    assert result.cancel_reason == "the workflow was cancelled"


async def test_cancel_after_the_end_reports_what_happened(
    client: Client, task_queue: str, worker: None, assistant_id: str
) -> None:
    text = 'call slow_lookup with {"seconds": 0.5}'
    handle = await start(client, task_queue, ask(assistant_id, text))
    await until(handle, lambda s: s.phase == RunPhase.running_tools)
    await until(handle, lambda s: s.phase == RunPhase.completed)
    with pytest.raises(Exception, match=r"(?i)workflow.*(completed|closed)"):
        await handle.execute_update(AssistantRun.cancel, CancelRequest())
    assert (await handle.result()).status == "completed"


async def test_a_run_past_the_apis_expiry_is_expired(
    client: Client, task_queue: str, worker: None, assistant_id: str
) -> None:
    request = ask(assistant_id, "Hello [[emulator queued=30 expires_in=0.5]]")
    result = await run(client, task_queue, request)
    assert result.status == "expired"


async def test_tools_outliving_the_run_end_it_expired_with_the_calls_recorded(
    client: Client, task_queue: str, worker: None, assistant_id: str
) -> None:
    text = 'call slow_lookup with {"seconds": 30} [[emulator expires_in=1]]'
    result = await run(client, task_queue, ask(assistant_id, text))
    assert result.status == "expired"
    [call] = result.tool_calls
    assert (call.name, call.error) == ("slow_lookup", "run_expired")


async def test_the_callers_deadline_cancels_the_run_and_reports_expired(
    client: Client, task_queue: str, worker: None, assistant_id: str, counters: Counters
) -> None:
    request = ask(assistant_id, f"Hello {SLOW_QUEUE}", deadline_seconds=1)
    result = await run(client, task_queue, request)
    assert result.status == "expired"
    assert result.cancel_reason == "deadline of 1s passed"
    assert counters.delta("runs_cancel_requested") == 1


async def busy_thread(openai: AsyncOpenAI, assistant_id: str, seconds: float) -> tuple[str, str]:
    thread = await openai.beta.threads.create(
        messages=[{"role": "user", "content": f"Hi [[emulator queued={seconds}]]"}]
    )
    other = await openai.beta.threads.runs.create(thread.id, assistant_id=assistant_id)
    return thread.id, other.id


async def test_active_run_policy_wait_runs_after_the_other_run(
    client: Client, task_queue: str, worker: None, assistant_id: str, openai: AsyncOpenAI
) -> None:
    thread_id, other = await busy_thread(openai, assistant_id, 1)
    request = ask(assistant_id, "Say hello to Ada", thread_id=thread_id, on_active_run="wait")
    result = await run(client, task_queue, request)
    assert result.status == "completed"
    assert result.run_id != other
    other_run = await openai.beta.threads.runs.retrieve(other, thread_id=thread_id)
    assert other_run.status == "completed"


async def test_active_run_policy_cancel_cancels_the_other_run(
    client: Client, task_queue: str, worker: None, assistant_id: str, openai: AsyncOpenAI
) -> None:
    thread_id, other = await busy_thread(openai, assistant_id, 30)
    request = ask(assistant_id, "Say hello to Ada", thread_id=thread_id, on_active_run="cancel")
    result = await run(client, task_queue, request)
    assert result.status == "completed"
    other_run = await openai.beta.threads.runs.retrieve(other, thread_id=thread_id)
    assert other_run.status == "cancelled"


async def test_active_run_policy_fail_fails_clearly_and_adds_nothing(
    client: Client, task_queue: str, worker: None, assistant_id: str, openai: AsyncOpenAI
) -> None:
    thread_id, other = await busy_thread(openai, assistant_id, 30)
    request = ask(assistant_id, "Say hello", thread_id=thread_id, on_active_run="fail")
    with pytest.raises(WorkflowFailureError) as failure:
        await run(client, task_queue, request)
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "ActiveRunConflict"
    assert f"already has an active run {other}" in cause.message
    listed = [m async for m in openai.beta.threads.messages.list(thread_id)]
    assert len(listed) == 1
    await openai.beta.threads.runs.cancel(other, thread_id=thread_id)
