"""Resources this system owns: ensured once under concurrency, foreign ones left alone, long
steps heartbeating, and every caller-controlled payload bounded with the field named."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from openai import AsyncOpenAI
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from emulator.config import FaultRule
from tests.integration.conftest import Counters, ask, run, start, until
from tests.integration.test_thread import config
from workers.client import post_message
from workflows.common import MAX_TOOL_OUTPUT_CHARS
from workflows.contracts import (
    IngestRequest,
    IngestResult,
    RunPhase,
    RunRequest,
    RunTimeouts,
    SubmitToolOutputsRequest,
    ThreadMessage,
)
from workflows.ingest.workflow import VectorStoreIngest
from workflows.run.workflow import AssistantRun
from workflows.thread.workflow import AssistantThread

QUICK = RunTimeouts(heartbeat_seconds=1, api_initial_retry_seconds=0.05)


def with_spec(spec: Mapping[str, object], text: str) -> RunRequest:
    return RunRequest.model_validate({"assistant": spec, "messages": [{"content": text}]})


async def test_twenty_runs_at_once_with_a_new_assistant_spec_make_one_assistant(
    client: Client, task_queue: str, worker: None, openai: AsyncOpenAI
) -> None:
    name = f"support-{uuid.uuid4().hex[:8]}"
    spec = {"name": name, "model": "gpt-4o", "instructions": "Be brief."}
    requests = [with_spec(spec, f"Hello {n}") for n in range(20)]
    results = await asyncio.gather(*(run(client, task_queue, r) for r in requests))
    assert {r.status for r in results} == {"completed"}
    assistants = [a async for a in openai.beta.assistants.list(limit=100) if a.name == name]
    assert len(assistants) == 1
    assert {r.assistant_id for r in results} == {assistants[0].id}
    assert (assistants[0].metadata or {})["created_by"] == "durable-assistants"


async def test_twenty_ingests_at_once_into_a_new_store_name_make_one_store(
    client: Client, task_queue: str, worker: None, openai: AsyncOpenAI
) -> None:
    name = f"handbook-{uuid.uuid4().hex[:8]}"

    async def ingest(n: int) -> IngestResult:
        request = IngestRequest.model_validate(
            {
                "vector_store": {"name": name},
                "files": [{"text": f"Page {n} {uuid.uuid4()}", "filename": f"p{n}.md"}],
            }
        )
        return await client.execute_workflow(
            VectorStoreIngest.run, request, id=f"ingest-{uuid.uuid4()}", task_queue=task_queue
        )

    results = await asyncio.gather(*(ingest(n) for n in range(20)))
    stores = [s async for s in openai.vector_stores.list(limit=100) if s.name == name]
    assert len(stores) == 1
    assert {r.vector_store_id for r in results} == {stores[0].id}
    assert stores[0].file_counts.completed == 20


async def test_a_foreign_assistant_of_the_same_name_is_neither_used_nor_changed(
    client: Client, task_queue: str, worker: None, openai: AsyncOpenAI
) -> None:
    name = f"shared-name-{uuid.uuid4().hex[:8]}"
    theirs = await openai.beta.assistants.create(model="gpt-4o", name=name, instructions="Mine.")
    spec = {"name": name, "model": "gpt-4o", "instructions": "Ours."}
    result = await run(client, task_queue, with_spec(spec, "Hi"))
    assert result.assistant_id not in (None, theirs.id)
    untouched = await openai.beta.assistants.retrieve(theirs.id)
    assert (untouched.instructions, untouched.metadata) == ("Mine.", theirs.metadata)


async def test_taking_500_files_out_of_a_store_heartbeats_instead_of_timing_out(
    client: Client,
    task_queue: str,
    worker: None,
    counters: Counters,
    faults: Callable[..., None],
) -> None:
    # Every file fails indexing once, so all 500 are taken out and added again; each removal
    # takes 50 ms, 25 s in all: far beyond the 3 s heartbeat timeout (3 s, not 1 s: a loaded
    # 2-core machine must not time out the other steps' heartbeats).
    faults(FaultRule(latency=0.05, route=r"^DELETE /v1/vector_stores/[^/]+/files/"))
    tag = uuid.uuid4().hex
    files = [
        {"text": f"File {n} {tag} [[emulator index_failures=1]]", "filename": f"f{n}.md"}
        for n in range(500)
    ]
    request = IngestRequest.model_validate(
        {
            "vector_store": {"name": f"five-hundred-{tag[:8]}"},
            "files": files,
            "timeouts": QUICK.model_copy(update={"heartbeat_seconds": 3}),
        }
    )
    handle = await client.start_workflow(
        VectorStoreIngest.run, request, id=f"ingest-{tag}", task_queue=task_queue
    )
    result = await asyncio.wait_for(handle.result(), timeout=240)
    assert [f.status for f in result.files] == ["completed"] * 500
    assert {f.attempts for f in result.files} == {2}
    history = await handle.fetch_history()
    timeouts = [
        e for e in history.events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT
    ]
    assert timeouts == []
    assert counters.delta("faults_injected", "latency") >= 500


async def test_an_external_tool_output_over_the_bound_is_refused_and_the_run_goes_on(
    client: Client, task_queue: str, worker: None, assistant_id: str
) -> None:
    handle = await start(
        client, task_queue, ask(assistant_id, 'call ask_a_human with {"question": "ok?"}')
    )
    state = await until(handle, lambda s: s.phase == RunPhase.running_tools)
    [pending] = state.pending_tool_calls
    too_long = {
        "tool_outputs": [{"tool_call_id": pending.id, "output": "x" * (MAX_TOOL_OUTPUT_CHARS + 1)}]
    }
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update("submit_tool_outputs", too_long)
    assert "tool_outputs.0.output" in str(refused.value.cause)
    answer = SubmitToolOutputsRequest.model_validate(
        {"tool_outputs": [{"tool_call_id": pending.id, "output": "yes"}]}
    )
    await handle.execute_update(AssistantRun.submit_tool_outputs, answer)
    assert (await handle.result()).status == "completed"


async def test_inline_ingest_text_over_the_bound_fails_at_once_and_creates_nothing(
    client: Client, task_queue: str, worker: None, counters: Counters
) -> None:
    files = [{"text": "x" * 400_000, "filename": f"big{n}.txt"} for n in range(3)]
    with pytest.raises(WorkflowFailureError) as failed:
        await client.execute_workflow(
            "VectorStoreIngest",
            {"vector_store": {"name": "too-big"}, "files": files},
            id=f"ingest-{uuid.uuid4()}",
            task_queue=task_queue,
        )
    assert isinstance(failed.value.cause, ApplicationError)
    assert "1,000,000" in str(failed.value.cause)
    assert counters.delta("vector_stores_created") == 0
    assert counters.delta("files_created") == 0


async def test_an_ingest_in_more_parts_than_allowed_fails_at_once_and_creates_nothing(
    client: Client, task_queue: str, worker: None, counters: Counters
) -> None:
    files = [{"file_id": f"file-{n}"} for n in range(250)]
    request = {"vector_store": {"name": "many-parts"}, "files": files, "files_per_child": 2}
    handle = await client.start_workflow(
        "VectorStoreIngest", request, id=f"ingest-{uuid.uuid4()}", task_queue=task_queue
    )
    with pytest.raises(WorkflowFailureError) as failed:
        await asyncio.wait_for(handle.result(), timeout=10)
    assert isinstance(failed.value.cause, ApplicationError)
    assert failed.value.cause.type == "InvalidIngestRequest"
    assert failed.value.cause.message == (
        "files_per_child: 250 files in parts of 2 make 125 child workflows, at most 100 "
        "(give at least 3)"
    )
    assert counters.delta("vector_stores_created") == 0
    kinds = {event.event_type for event in (await handle.fetch_history()).events}
    assert EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED not in kinds
    assert EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED not in kinds


async def test_a_full_conversation_queue_refuses_the_update_and_counts_the_signal(
    client: Client, task_queue: str, worker: None, assistant_id: str
) -> None:
    thread = config(assistant_id)
    big = "y" * 250_000
    handle = await post_message(client, task_queue, thread, "Slow [[emulator queued=30]]")
    await until_running(handle)
    for _ in range(4):
        await handle.signal(AssistantThread.post_message, ThreadMessage(content=big))
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(AssistantThread.send_message, ThreadMessage(content=big))
    cause = refused.value.cause
    assert isinstance(cause, ApplicationError)
    assert (cause.type, "queue full" in cause.message) == ("ThreadQueueFull", True)
    await handle.signal(AssistantThread.post_message, ThreadMessage(content=big))
    state = await handle.query(AssistantThread.state)
    assert (state.queue_length, state.refused_messages) == (4, 1)
    await handle.terminate("test over")


async def until_running(handle: Any) -> None:
    for _ in range(200):
        if (await handle.query(AssistantThread.state)).current_run:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("no run started")


async def test_metadata_over_the_apis_bound_is_refused_naming_the_field(
    client: Client, task_queue: str, worker: None, counters: Counters
) -> None:
    spec = {"name": "m", "model": "gpt-4o", "metadata": {f"k{n}": "v" for n in range(14)}}
    with pytest.raises(WorkflowFailureError) as failed:
        await client.execute_workflow(
            "AssistantRun",
            {"assistant": spec, "messages": [{"content": "hi"}]},
            id=f"run-{uuid.uuid4()}",
            task_queue=task_queue,
        )
    assert "assistant.metadata" in str(failed.value.cause)
    assert counters.delta("assistants_created") == 0
