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

from workers.connection import connect
from workers.settings import Settings

log = structlog.get_logger(__name__)

WORKFLOWS: list[type] = []


def build_worker(
    client: Client,
    settings: Settings,
    *,
    workflows: Sequence[type] = WORKFLOWS,
    activities: Sequence[Callable[..., Any]] = (),
    task_queue: str | None = None,
) -> Worker:
    return Worker(
        client,
        task_queue=task_queue or settings.temporal_task_queue,
        workflows=workflows,
        activities=activities,
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


async def run_worker(settings: Settings) -> None:
    stop = stop_on_signals()
    client = await connect(settings)
    await serve(build_worker(client, settings), stop)
