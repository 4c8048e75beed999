"""`durable-assistants status`: what a workflow of this system is doing, or how it ended.

A running workflow shows its `state` (or `progress`) query and, from the pending activities'
heartbeats, the API object it waits on (a run or response id and its API status), so a run
whose model is still working is visible as such within a heartbeat of its creation.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from temporalio.api.workflow.v1 import PendingActivityInfo
from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowFailureError,
)
from temporalio.converter import DataConverter
from temporalio.exceptions import FailureError

from workers.failures import failure_message
from workflows.contracts import (
    CleanupReport,
    IngestProgress,
    IngestResult,
    RunResult,
    RunState,
    ThreadState,
)

QUERIES: dict[str, tuple[str, type[BaseModel]]] = {
    "AssistantRun": ("state", RunState),
    "AssistantThread": ("state", ThreadState),
    "VectorStoreIngest": ("progress", IngestProgress),
}
RESULTS: dict[str, type[BaseModel]] = {
    "AssistantRun": RunResult,
    "AssistantThread": ThreadState,
    "VectorStoreIngest": IngestResult,
    "Cleanup": CleanupReport,
}


async def workflow_status(client: Client, workflow_id: str) -> dict[str, Any]:
    """The workflow's state while it runs, its result (or error) once it has ended."""
    handle = client.get_workflow_handle(workflow_id)
    description = await handle.describe()
    kind = description.workflow_type
    status = description.status or WorkflowExecutionStatus.RUNNING
    shown: dict[str, Any] = {
        "workflow_id": workflow_id,
        "workflow_type": kind,
        "workflow_status": status.name.lower(),
    }
    if status == WorkflowExecutionStatus.RUNNING:
        if kind in QUERIES:
            query, state_type = QUERIES[kind]
            state = await handle.query(query, result_type=state_type)
            shown.update(state.model_dump(mode="json"))
        shown["waiting_on"] = await waiting_on(client.data_converter, description)
        return shown
    try:
        ended = client.get_workflow_handle(workflow_id, result_type=RESULTS.get(kind))
        result = await ended.result()
    except WorkflowFailureError as err:
        shown["error"] = failure_message(err)
        return shown
    if isinstance(result, BaseModel):
        shown.update(result.model_dump(mode="json"))
    return shown


async def waiting_on(
    converter: DataConverter, description: WorkflowExecutionDescription
) -> list[dict[str, Any]]:
    """The workflow's pending activities: which step, which attempt, the API object it
    follows (from its heartbeats) and why an earlier attempt failed."""
    pending = description.raw_description.pending_activities
    return [await _pending(converter, activity) for activity in pending]


async def _pending(converter: DataConverter, activity: PendingActivityInfo) -> dict[str, Any]:
    shown: dict[str, Any] = {"step": activity.activity_type.name, "attempt": activity.attempt}
    details = activity.heartbeat_details.payloads
    decoded = await converter.decode(details) if details else []
    if decoded and isinstance(decoded[0], dict) and decoded[0].get("id"):
        shown["api"] = {"id": decoded[0]["id"], "status": decoded[0].get("status")}
    if activity.HasField("last_failure"):
        shown["last_failure"] = await _failure_message(converter, activity)
    return shown


async def _failure_message(converter: DataConverter, activity: PendingActivityInfo) -> str:
    """The failure's message, decrypted when PAYLOAD_ENCRYPTION_KEYS moved it into a payload."""
    failure = type(activity.last_failure)()
    failure.CopyFrom(activity.last_failure)
    error = await converter.decode_failure(failure)
    return error.message if isinstance(error, FailureError) else str(error)
