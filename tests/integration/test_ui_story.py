"""What the Temporal UI shows of a run and a conversation: a summary of each workflow, labelled
timers and child runs, current details that stay current, search attributes upserted only
when they change, and cancelled runs findable as such."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client, WorkflowHandle

from tests.integration.conftest import Assistant, ask, both_backends, until
from tests.integration.conftest import run_cli as cli
from tests.integration.test_thread import config
from workers.client import send_message, start_run, thread_workflow_id
from workers.settings import Settings
from workflows.contracts import CancelRequest
from workflows.run.workflow import AssistantRun

pytestmark = both_backends


async def events(handle: WorkflowHandle[Any, Any]) -> list[HistoryEvent]:
    return [event async for event in handle.fetch_history_events()]


def summaries(history: list[HistoryEvent], kind: EventType.ValueType) -> list[str]:
    return [
        json.loads(e.user_metadata.summary.data)
        for e in history
        if e.event_type == kind and e.user_metadata.summary.data
    ]


def repeated_upserts(history: list[HistoryEvent]) -> list[str]:
    """Search attributes upserted with the value they already had."""
    current: dict[str, bytes] = {}
    repeated = []
    for event in history:
        if event.event_type != EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            continue
        fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
        for name, payload in fields.indexed_fields.items():
            if current.get(name) == payload.data:
                repeated.append(name)
            current[name] = payload.data
    return repeated


async def current_details(handle: WorkflowHandle[Any, Any]) -> str:
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    return str(metadata.current_details)


async def test_a_run_has_a_summary_a_labelled_deadline_and_no_repeated_upserts(
    client: Client, task_queue: str, worker: None, assistant: Assistant
) -> None:
    request = ask(assistant, "What is the weather in Rome?", deadline_seconds=120)
    handle = await start_run(client, task_queue, request)
    result = await handle.result()
    assert result.status == "completed"
    assert await (await handle.describe()).static_summary() == request.summary()
    assert request.summary().endswith(": What is the weather in Rome?")
    history = await events(handle)
    assert summaries(history, EventType.EVENT_TYPE_TIMER_STARTED) == ["deadline"]
    assert repeated_upserts(history) == []
    assert "**completed**" in await current_details(handle)


async def test_a_conversation_labels_its_runs_and_says_when_it_waits(
    client: Client, task_queue: str, worker: None, assistant: Assistant
) -> None:
    thread = config(assistant)
    answer = await send_message(client, task_queue, thread, "Hello there")
    assert answer.status == "completed"
    handle = client.get_workflow_handle(thread_workflow_id(thread.key))
    assert await (await handle.describe()).static_summary() == thread.summary()
    history = await events(handle)
    children = summaries(history, EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED)
    assert len(children) == 1
    assert children[0].endswith(": Hello there")
    assert summaries(history, EventType.EVENT_TYPE_TIMER_STARTED)[:1] == ["idle timeout"]
    details = await current_details(handle)
    assert "**waiting** for messages: 1 answered, the last completed" in details


async def test_a_cancelled_run_is_found_by_its_run_phase(
    client: Client, task_queue: str, worker: None, assistant: Assistant
) -> None:
    handle = await start_run(client, task_queue, ask(assistant, "Hi [[emulator queued=30]]"))
    await until(handle, lambda state: state.run_attempts == 1)
    await handle.execute_update(AssistantRun.cancel, CancelRequest(reason="not needed"))
    await handle.result()
    query = f'WorkflowId = "{handle.id}" AND RunPhase = "cancelled"'
    for _ in range(100):
        if [w async for w in client.list_workflows(query)]:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the cancelled run is not listed with RunPhase cancelled")
    assert "**cancelled**: not needed" in await current_details(handle)


async def test_an_ingest_started_from_the_cli_says_what_it_ingests_where(
    settings: Settings, client: Client, worker: None, tmp_path: Path
) -> None:
    (tmp_path / "a.md").write_text(f"{uuid.uuid4()} first")
    (tmp_path / "b.md").write_text(f"{uuid.uuid4()} second")
    name = f"ui-{uuid.uuid4().hex[:8]}"
    began = datetime.now(UTC).isoformat()
    ingested = await cli(settings, "ingest", name, "a.md", "b.md", "--json", cwd=tmp_path)
    assert ingested.returncode == 0, ingested.stderr
    # this test's ingests only: an earlier test's on the same server may be encrypted
    query = f'WorkflowType = "VectorStoreIngest" AND StartTime >= "{began}"'
    summaries = [
        await (await client.get_workflow_handle(w.id).describe()).static_summary()
        async for w in client.list_workflows(query)
    ]
    assert f"ingest 2 files into {name}" in summaries
