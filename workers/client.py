"""A thin typed client for other Python services: start runs, read their state, cancel them.

Services in other languages start the same workflows by name with JSON (see README.md).
"""

from __future__ import annotations

import uuid
from pathlib import Path

from openai import AsyncOpenAI
from temporalio.client import Client, WorkflowHandle

from workflows.contracts import CancelRequest, RunRequest, RunResult, RunState
from workflows.run import AssistantRun

RunHandle = WorkflowHandle[AssistantRun, RunResult]


async def start_run(
    client: Client, task_queue: str, request: RunRequest, workflow_id: str | None = None
) -> RunHandle:
    return await client.start_workflow(
        AssistantRun.run,
        request,
        id=workflow_id or f"run-{uuid.uuid4()}",
        task_queue=task_queue,
    )


async def run_state(client: Client, workflow_id: str) -> RunState:
    handle = client.get_workflow_handle_for(AssistantRun.run, workflow_id)
    return await handle.query(AssistantRun.state)


async def run_result(client: Client, workflow_id: str) -> RunResult:
    return await client.get_workflow_handle_for(AssistantRun.run, workflow_id).result()


async def cancel_run(client: Client, workflow_id: str, reason: str) -> RunState:
    handle = client.get_workflow_handle_for(AssistantRun.run, workflow_id)
    return await handle.execute_update(AssistantRun.cancel, CancelRequest(reason=reason))


async def upload_files(openai: AsyncOpenAI, paths: list[Path]) -> list[str]:
    """Upload files for file_search attachments; only their ids enter workflow history."""
    ids = []
    for path in paths:
        with path.open("rb") as content:
            ids.append((await openai.files.create(file=content, purpose="assistants")).id)
    return ids
