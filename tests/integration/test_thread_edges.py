"""AssistantThread at its edges: closing and reopening, steady traffic, cancel and terminate,
on both API backends."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError

from tests.integration.conftest import Assistant, Seen, both_backends
from tests.integration.test_thread import config
from workers.client import ThreadHandle, post_message, send_message, thread_workflow_id
from workflows.contracts import CloseThread, RunResult, ThreadConfig
from workflows.run.workflow import AssistantRun
from workflows.thread.workflow import AssistantThread

pytestmark = both_backends


def handle_of(client: Client, thread: ThreadConfig) -> ThreadHandle:
    return client.get_workflow_handle_for(AssistantThread.run, thread_workflow_id(thread.key))


async def executions(client: Client, thread: ThreadConfig) -> list[WorkflowExecutionStatus]:
    query = f'WorkflowId = "{thread_workflow_id(thread.key)}"'
    listed = [e async for e in client.list_workflows(query)]
    return [e.status for e in sorted(listed, key=lambda e: e.start_time) if e.status]


async def until_current_run(handle: ThreadHandle) -> str:
    for _ in range(200):
        try:
            current = (await handle.query(AssistantThread.state)).current_run
        except Exception:  # not started yet
            current = None
        if current:
            return current
        await asyncio.sleep(0.05)
    raise AssertionError("no run started")


async def test_the_current_run_a_conversation_shows_has_been_started(
    client: Client, task_queue: str, worker: None, assistant: Assistant
) -> None:
    thread = config(assistant)
    handle = await post_message(client, task_queue, thread, "Slow one [[emulator queued=30]]")
    run = client.get_workflow_handle_for(AssistantRun.run, await until_current_run(handle))
    assert (await run.describe()).status == WorkflowExecutionStatus.RUNNING
    assert await handle.execute_update(AssistantThread.cancel_current_run) == run.id


async def test_a_cancel_sent_with_the_message_cancels_its_run_or_finds_none(
    client: Client, task_queue: str, worker: None, assistant: Assistant
) -> None:
    # The cancel lands before, while or after the conversation starts the message's run:
    # it finds no run, or the run once it is started (which ends cancelled); never an error.
    thread = config(assistant)
    handle = await post_message(client, task_queue, thread, "Slow one [[emulator queued=5]]")
    cancelled = await handle.execute_update(AssistantThread.cancel_current_run)
    state = await handle.query(AssistantThread.state)
    if cancelled is None:
        assert state.runs_done == 0, "no run had been started: the message is answered"
        cancelled = await until_current_run(handle)
        await handle.execute_update(AssistantThread.cancel_current_run)
    run = client.get_workflow_handle_for(AssistantRun.run, cancelled)
    assert (await asyncio.wait_for(run.result(), timeout=30)).status == "cancelled"


async def test_a_conversation_closed_on_idle_remembers_its_thread_at_the_next_message(
    client: Client, task_queue: str, worker: None, assistant: Assistant, seen: Seen
) -> None:
    thread = config(assistant, idle_timeout_seconds=1)
    first = await send_message(client, task_queue, thread, "My name is Ada")
    closed = await asyncio.wait_for(handle_of(client, thread).result(), timeout=20)
    assert closed.closing
    second = await send_message(client, task_queue, thread, "What is my name?")
    if isinstance(assistant, str):
        assert second.thread_id == first.thread_id
    users = [text for role, text in await seen.conversation(second) if role == "user"]
    assert users == ["My name is Ada", "What is my name?"]
    state = await handle_of(client, thread).query(AssistantThread.state)
    assert (state.runs_done, [r.message_id for r in state.recent]) == (2, [1, 2])
    assert await executions(client, thread) == [
        WorkflowExecutionStatus.COMPLETED,
        WorkflowExecutionStatus.RUNNING,
    ]


async def test_a_message_sent_while_the_conversation_closes_is_answered_after_it(
    client: Client, task_queue: str, worker: None, assistant: Assistant
) -> None:
    thread = config(assistant)
    handle = await post_message(client, task_queue, thread, "Slow one [[emulator queued=1]]")
    await handle.execute_update(AssistantThread.close, CloseThread())
    late = await send_message(client, task_queue, thread, "Are you still there?")
    assert late.status == "completed"
    first = await handle_of(client, thread).query(AssistantThread.state)
    assert (first.thread_id, first.runs_done) == (late.thread_id, 2)


async def test_a_busy_conversation_continues_as_new_without_losing_or_repeating_messages(
    client: Client,
    task_queue: str,
    worker: None,
    assistant: Assistant,
    seen: Seen,
) -> None:
    thread = config(assistant, runs_before_continue_as_new=3)

    async def sender(n: int) -> list[RunResult]:
        return [
            await send_message(client, task_queue, thread, f"Sender {n} message {m}")
            for m in range(4)
        ]

    results = [r for rs in await asyncio.gather(*(sender(n) for n in range(3))) for r in rs]
    assert [r.status for r in results] == ["completed"] * 12
    last = (await handle_of(client, thread).query(AssistantThread.state)).thread_id or ""
    users = [text for role, text in await seen.conversation(last) if role == "user"]
    assert sorted(users) == sorted(f"Sender {n} message {m}" for n in range(3) for m in range(4))
    assert seen.conversation_runs(thread.key, last) == 12
    statuses = await executions(client, thread)
    assert statuses.count(WorkflowExecutionStatus.CONTINUED_AS_NEW) >= 2


async def test_reopening_after_a_close_that_deleted_the_thread_starts_a_new_thread(
    client: Client, task_queue: str, worker: None, assistant: Assistant
) -> None:
    thread = config(assistant)
    first = await send_message(client, task_queue, thread, "Remember the number 7")
    handle = handle_of(client, thread)
    await handle.execute_update(AssistantThread.close, CloseThread(delete_thread=True))
    assert (await handle.result()).thread_deleted
    second = await send_message(client, task_queue, thread, "Which number?")
    assert second.status == "completed"
    assert second.thread_id not in (None, first.thread_id)


async def test_a_thread_deleted_after_the_conversation_closed_is_replaced(
    client: Client, task_queue: str, worker: None, assistant: Assistant, seen: Seen
) -> None:
    thread = config(assistant)
    first = await send_message(client, task_queue, thread, "Hello")
    handle = handle_of(client, thread)
    await handle.execute_update(AssistantThread.close, CloseThread())
    await handle.result()
    assert first.thread_id is not None
    await seen.delete_thread(first.thread_id)  # by a cleanup, say
    second = await send_message(client, task_queue, thread, "Hello again")
    assert second.status == "completed"
    assert second.thread_id not in (None, first.thread_id)


@pytest.mark.parametrize("how", ["terminate", "cancel"])
async def test_ending_a_conversation_cancels_its_current_run_at_the_api(
    how: str,
    client: Client,
    task_queue: str,
    worker: None,
    assistant: Assistant,
    seen: Seen,
) -> None:
    thread = config(assistant)
    waiting = asyncio.create_task(
        send_message(client, task_queue, thread, "Slow one [[emulator queued=30]]")
    )
    handle = handle_of(client, thread)
    run = client.get_workflow_handle_for(AssistantRun.run, await until_current_run(handle))
    await seen.until_run_created(run)
    if how == "terminate":
        await handle.terminate("ended by an operator")
    else:
        await handle.cancel()
    result = await asyncio.wait_for(run.result(), timeout=30)
    assert result.status == "cancelled"
    assert await seen.api_status(result) == "cancelled"
    if how == "cancel":
        assert (await waiting).status == "cancelled"
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    else:
        waiting.cancel()
