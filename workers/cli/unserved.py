"""A caller waiting on a workflow hears when no worker serves its task queue (no worker
started, or a typo in TEMPORAL_TASK_QUEUE) instead of waiting in silence."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from rich.console import Console
from temporalio.api.enums.v1 import TaskQueueKind, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.service import RPCError

UNSERVED_CHECKS = 4
UNSERVED_CHECK_INTERVAL_SECONDS = 1.0
"""A worker starting at the same time as the caller gets this long (3 s) to poll first."""


@asynccontextmanager
async def warning_if_unserved(
    client: Client, task_queue: str, console: Console
) -> AsyncIterator[None]:
    """While the block waits, warn once if no worker polls `task_queue`."""
    check = asyncio.create_task(warn_if_unserved(client, task_queue, console))
    try:
        yield
    finally:
        check.cancel()


async def warn_if_unserved(client: Client, task_queue: str, console: Console) -> None:
    for check in range(UNSERVED_CHECKS):
        if check:
            await asyncio.sleep(UNSERVED_CHECK_INTERVAL_SECONDS)
        try:
            if await has_workflow_pollers(client, task_queue):
                return
        except RPCError:  # e.g. not allowed to describe it: no way to tell, nothing to say
            return
    console.print(
        f"warning: no worker polls the task queue {task_queue!r}; start one with"
        f" `TEMPORAL_TASK_QUEUE={task_queue} durable-assistants worker`, or check"
        " TEMPORAL_TASK_QUEUE. Still waiting.",
        style="yellow",
        markup=False,
        highlight=False,
    )


async def has_workflow_pollers(client: Client, task_queue: str) -> bool:
    described = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    return len(described.pollers) > 0
