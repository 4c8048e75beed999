"""Cancel in every phase and the caller's deadline, on both API backends."""

from __future__ import annotations

import pytest
from temporalio.client import Client

from tests.integration.conftest import (
    Assistant,
    Seen,
    ask,
    both_backends,
    run,
    start,
    until,
)
from workflows.contracts import CancelRequest, RunPhase
from workflows.run.workflow import AssistantRun

pytestmark = both_backends
SLOW_QUEUE = "[[emulator queued=30]]"


async def test_cancel_while_the_run_is_queued(
    client: Client, task_queue: str, worker: None, assistant: Assistant, seen: Seen
) -> None:
    handle = await start(client, task_queue, ask(assistant, f"Hello {SLOW_QUEUE}"))
    await seen.until_run_created(handle)
    state = await handle.execute_update(AssistantRun.cancel, CancelRequest(reason="changed mind"))
    assert state.phase == RunPhase.cancelled
    result = await handle.result()
    assert (result.status, result.cancel_reason) == ("cancelled", "changed mind")
    assert result.run_id is not None
    assert seen.cancels_requested() == 1
    assert seen.api_runs(handle.id, result) == 1


async def test_cancel_while_tools_run_cancels_them_and_the_run(
    client: Client, task_queue: str, worker: None, assistant: Assistant, seen: Seen
) -> None:
    text = 'call slow_lookup with {"seconds": 20}'
    handle = await start(client, task_queue, ask(assistant, text))
    state = await until(handle, lambda s: s.phase == RunPhase.running_tools)
    assert [call.name for call in state.pending_tool_calls] == ["slow_lookup"]
    await handle.execute_update(AssistantRun.cancel, CancelRequest())
    result = await handle.result()
    assert result.status == "cancelled"
    # On the responses backend the response that asked for the tools had completed; the run
    # ends there, cancelled, and nothing continues it.
    ended = {"assistants": "cancelled", "responses": "completed"}
    assert await seen.api_status(result) == ended[seen.backend]


async def test_workflow_cancellation_cancels_the_run(
    client: Client, task_queue: str, worker: None, assistant: Assistant, seen: Seen
) -> None:
    handle = await start(client, task_queue, ask(assistant, f"Hello {SLOW_QUEUE}"))
    await seen.until_run_created(handle)
    await handle.cancel()
    result = await handle.result()
    assert result.status == "cancelled"
    assert result.cancel_reason == "the workflow was cancelled"


async def test_cancel_after_the_end_reports_what_happened(
    client: Client, task_queue: str, worker: None, assistant: Assistant
) -> None:
    text = 'call slow_lookup with {"seconds": 0.5}'
    handle = await start(client, task_queue, ask(assistant, text))
    await until(handle, lambda s: s.phase == RunPhase.running_tools)
    await until(handle, lambda s: s.phase == RunPhase.completed)
    with pytest.raises(Exception, match=r"(?i)workflow.*(completed|closed)"):
        await handle.execute_update(AssistantRun.cancel, CancelRequest())
    assert (await handle.result()).status == "completed"


async def test_the_callers_deadline_cancels_the_run_and_reports_expired(
    client: Client, task_queue: str, worker: None, assistant: Assistant, seen: Seen
) -> None:
    request = ask(assistant, f"Hello {SLOW_QUEUE}", deadline_seconds=1)
    result = await run(client, task_queue, request)
    assert result.status == "expired"
    assert result.cancel_reason == "deadline of 1s passed"
    assert seen.cancels_requested() == 1
