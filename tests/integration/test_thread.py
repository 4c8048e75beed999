"""AssistantThread: one workflow per conversation, runs one at a time, from any caller, on both
API backends."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from typing import Any

import pytest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter

from tests.integration.conftest import Assistant, Counters, Seen, both_backends, spawn_worker
from workers.client import post_message, send_message, thread_workflow_id
from workers.settings import Settings
from workers.temporal_server import temporal_binary
from workflows.contracts import CloseThread, ThreadConfig, ThreadMessage
from workflows.thread.workflow import AssistantThread

pytestmark = both_backends


def config(assistant: Assistant, **fields: Any) -> ThreadConfig:
    target = {"assistant_id": assistant} if isinstance(assistant, str) else {"assistant": assistant}
    return ThreadConfig.model_validate({"key": uuid.uuid4().hex[:12], **target, **fields})


async def test_concurrent_messages_run_one_at_a_time_in_order(
    client: Client,
    task_queue: str,
    worker: None,
    assistant: Assistant,
    counters: Counters,
    seen: Seen,
) -> None:
    thread = config(assistant)
    texts = [f"Message number {n}" for n in range(20)]
    results = await asyncio.gather(*(send_message(client, task_queue, thread, t) for t in texts))
    assert [r.status for r in results] == ["completed"] * 20
    if isinstance(assistant, str):  # on responses each answer continues from the last
        assert len({r.thread_id for r in results}) == 1
    assert len({r.run_id for r in results}) == 20
    handle = client.get_workflow_handle_for(AssistantThread.run, thread_workflow_id(thread.key))
    last = (await handle.query(AssistantThread.state)).thread_id or ""
    turns = await seen.conversation(last)
    assert [role for role, _ in turns] == ["user", "assistant"] * 20  # never two runs at once
    for (_, question), (_, answer) in zip(turns[::2], turns[1::2], strict=True):
        assert question in answer  # each answer is to the message just before it
    assert sorted(q for _, q in turns[::2]) == sorted(texts)
    assert seen.conversation_runs(thread.key, last) == 20
    assert counters.delta("requests", "POST /v1/threads/{thread_id}/runs 400") == 0


async def test_update_with_start_from_two_clients_creates_one_workflow(
    client: Client, task_queue: str, worker: None, assistant: Assistant, temporal_address: str
) -> None:
    other = await Client.connect(temporal_address, data_converter=pydantic_data_converter)
    thread = config(assistant)
    first, second = await asyncio.gather(
        send_message(client, task_queue, thread, "Hello from one"),
        send_message(other, task_queue, thread, "Hello from two"),
    )
    if isinstance(assistant, str):  # on responses each answer continues from the last
        assert first.thread_id == second.thread_id
    query = f'WorkflowId = "{thread_workflow_id(thread.key)}"'
    assert (await client.count_workflows(query)).count == 1


async def test_continue_as_new_mid_queue_loses_and_repeats_nothing(
    client: Client,
    task_queue: str,
    worker: None,
    assistant: Assistant,
    counters: Counters,
    seen: Seen,
) -> None:
    thread = config(assistant, runs_before_continue_as_new=2)
    posted = [f"Posted message {n}" for n in range(5)]
    handle = await post_message(client, task_queue, thread, posted[0])
    for text in posted[1:]:
        await handle.signal(AssistantThread.post_message, ThreadMessage(content=text))
    first = client.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id)
    for _ in range(100):
        if (await first.describe()).status == WorkflowExecutionStatus.CONTINUED_AS_NEW:
            break
        await asyncio.sleep(0.1)
    assert (await first.describe()).status == WorkflowExecutionStatus.CONTINUED_AS_NEW
    last = await send_message(client, task_queue, thread, "Final question")
    assert last.status == "completed"
    assert last.thread_id is not None
    turns = await seen.conversation(last)
    assert [text for role, text in turns if role == "user"] == [*posted, "Final question"]
    assert seen.conversation_runs(thread.key, last) == 6
    state = await handle.query(AssistantThread.state)
    assert (state.runs_done, state.queue_length) == (6, 0)


async def test_a_worker_killed_between_runs_leaves_the_conversation_intact(
    client: Client,
    task_queue: str,
    settings: Settings,
    temporal_address: str,
    assistant: Assistant,
    seen: Seen,
    worker_process: list[subprocess.Popen[bytes]],
) -> None:
    worker_process.append(spawn_worker(settings, temporal_address))
    thread = config(assistant)
    first = await send_message(client, task_queue, thread, "First question")
    worker_process[0].kill()
    worker_process[0].wait()
    worker_process.append(spawn_worker(settings, temporal_address))
    second = await send_message(client, task_queue, thread, "Second question")
    assert (first.status, second.status) == ("completed", "completed")
    turns = await seen.conversation(second)
    assert [text for role, text in turns if role == "user"] == ["First question", "Second question"]
    assert seen.conversation_runs(thread.key, second) == 2


async def test_an_idle_thread_completes_and_deletes_its_api_thread(
    client: Client, task_queue: str, worker: None, assistant: Assistant, seen: Seen
) -> None:
    thread = config(assistant, idle_timeout_seconds=1, delete_thread_when_done=True)
    result = await send_message(client, task_queue, thread, "Hello, then goodbye")
    assert result.thread_id is not None
    handle = client.get_workflow_handle_for(AssistantThread.run, thread_workflow_id(thread.key))
    final = await asyncio.wait_for(handle.result(), timeout=20)
    assert (final.runs_done, final.thread_id, final.thread_deleted) == (1, result.thread_id, True)
    assert not await seen.thread_exists(result.thread_id)


async def test_close_answers_what_is_queued_then_refuses_new_messages(
    client: Client, task_queue: str, worker: None, assistant: Assistant
) -> None:
    thread = config(assistant)
    handle = await post_message(client, task_queue, thread, "Queued [[emulator queued=1]]")
    state = await handle.execute_update(AssistantThread.close, CloseThread())
    assert state.closing
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(AssistantThread.send_message, ThreadMessage(content="Late"))
    assert "is closing" in str(refused.value.cause)
    final = await handle.result()
    assert final.runs_done == 1


async def test_cancel_current_run_answers_its_message_cancelled(
    client: Client, task_queue: str, worker: None, assistant: Assistant
) -> None:
    thread = config(assistant)
    waiting = asyncio.create_task(
        send_message(client, task_queue, thread, "Slow one [[emulator queued=30]]")
    )
    handle = client.get_workflow_handle_for(AssistantThread.run, thread_workflow_id(thread.key))
    for _ in range(100):
        try:
            if (await handle.query(AssistantThread.state)).current_run:
                break
        except Exception:  # not started yet
            pass
        await asyncio.sleep(0.1)
    cancelled = await handle.execute_update(AssistantThread.cancel_current_run)
    assert cancelled is not None
    assert (await waiting).status == "cancelled"


async def test_the_temporal_cli_sends_a_message_with_update_with_start(
    client: Client, task_queue: str, worker: None, assistant: Assistant, temporal_address: str
) -> None:
    key = uuid.uuid4().hex[:12]
    temporal = [str(temporal_binary()), "workflow"]
    where = ["--address", temporal_address, "--workflow-id", f"thread-{key}"]
    await cli(
        *temporal,
        "start-update-with-start",
        *where,
        "--type",
        "AssistantThread",
        "--task-queue",
        task_queue,
        "--id-conflict-policy",
        "UseExisting",
        "--input",
        config(assistant, key=key).model_dump_json(exclude_defaults=True),
        "--update-name",
        "send_message",
        "--update-id",
        "first-message",
        "--update-wait-for-stage",
        "accepted",
        "--update-input",
        json.dumps({"content": "Say hello to the CLI"}),
    )
    answer = await cli(
        *temporal, "update", "result", *where, "--update-id", "first-message", "--output", "json"
    )
    assert "hello to the CLI" in answer
    assert json.loads(answer)["result"]["status"] == "completed"


async def cli(*args: str) -> str:
    completed = await asyncio.to_thread(
        subprocess.run, args, capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout
