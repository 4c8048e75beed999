"""The worker process: every workflow and activity of the project on one task queue."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import structlog
from temporalio.client import Client
from temporalio.worker import Worker

from activities.tools import ToolActivities, ToolRegistry, load_tools
from workers.connection import connect
from workers.settings import Settings, SettingsError

log = structlog.get_logger(__name__)

WORKFLOWS: list[type] = []


def project_activities(settings: Settings, task_queue: str) -> list[Callable[..., Any]]:
    """Every activity a worker on `task_queue` serves, tools from TOOLS_MODULES included."""
    tools = ToolActivities(project_tools(settings), settings.tool_output_max_chars)
    return tools.activities(task_queue, settings.temporal_task_queue)


def project_tools(settings: Settings) -> ToolRegistry:
    try:
        return load_tools(settings.tool_modules)
    except ImportError as err:
        raise SettingsError(str(err)) from None


def build_worker(
    client: Client,
    settings: Settings,
    *,
    workflows: Sequence[type] = WORKFLOWS,
    activities: Sequence[Callable[..., Any]] | None = None,
    task_queue: str | None = None,
) -> Worker:
    queue = task_queue or settings.temporal_task_queue
    return Worker(
        client,
        task_queue=queue,
        workflows=workflows,
        activities=project_activities(settings, queue) if activities is None else activities,
        graceful_shutdown_timeout=timedelta(seconds=settings.graceful_shutdown_seconds),
    )


def stop_on_signals() -> asyncio.Event:
    """An event set by the first SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop


async def serve(worker: Worker, stop: asyncio.Event) -> None:
    """Run `worker` until `stop` is set, then shut down gracefully."""
    async with worker:
        log.info("worker started", task_queue=worker.task_queue)
        await stop.wait()
        log.info("worker stopping", task_queue=worker.task_queue)


async def run_worker(settings: Settings, task_queue: str | None = None) -> None:
    """Serve the project's task queue, or only the tools of another `task_queue`."""
    queue = task_queue or settings.temporal_task_queue
    workflows = WORKFLOWS if queue == settings.temporal_task_queue else []
    activities = project_activities(settings, queue)  # bad TOOLS_MODULES fail before connecting
    stop = stop_on_signals()
    client = await connect(settings)
    worker = build_worker(
        client, settings, workflows=workflows, activities=activities, task_queue=queue
    )
    await serve(worker, stop)
