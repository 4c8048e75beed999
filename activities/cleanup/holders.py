"""Whether a thread is in use: held by a workflow that is open (or closed since a moment), or
by a run of a conversation that is. A conversation marks its thread (`OpenAIThreadId`) when
its first run has made it, and the visibility index shows that mark a moment later: its run,
closed and listed already, is what holds the thread meanwhile, through its conversation,
looked up by id (strongly consistent)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode


async def thread_in_use(
    temporal: Client, thread: str, since: datetime | None = None, responses: Sequence[str] = ()
) -> bool:
    """`responses`: the ids of the thread's responses (responses backend), which a workflow
    given one to continue from holds from its start (before it knows the chain's first)."""
    recent = 'ExecutionStatus = "Running"'
    if since is not None:
        recent += f' OR CloseTime >= "{since.isoformat()}"'
    for batch in _batches([thread, *responses]):
        held = ", ".join(f'"{held}"' for held in batch)
        if (await temporal.count_workflows(f"OpenAIThreadId IN ({held}) AND ({recent})")).count:
            return True
    holding = f'OpenAIThreadId = "{thread}"'
    conversations: set[str] = set()
    async for execution in temporal.list_workflows(holding):
        parent = execution.parent_id
        if parent is None or parent in conversations:
            continue
        conversations.add(parent)
        if await _open_since(temporal, parent, since):
            return True
    return False


async def _open_since(temporal: Client, workflow_id: str, since: datetime | None) -> bool:
    """The workflow's latest execution is open, or closed since `since`."""
    try:
        described = await temporal.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    if described.status == WorkflowExecutionStatus.RUNNING:
        return True
    closed = described.close_time
    return since is not None and closed is not None and closed >= since


def _batches(ids: Sequence[str], size: int = 50) -> list[list[str]]:
    unique = list(dict.fromkeys(ids))
    return [unique[start : start + size] for start in range(0, len(unique), size)]
