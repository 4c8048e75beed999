"""Heartbeats while an activity waits on the API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from temporalio import activity

MAX_INTERVAL_SECONDS = 1.0


@asynccontextmanager
async def heartbeating() -> AsyncIterator[None]:
    """Heartbeat in the background for as long as the block runs, so a dead worker is noticed
    and a cancel reaches an activity whose stream or poll is quiet. The SDK throttles what
    it sends (the worker's `max_heartbeat_throttle_interval`)."""
    timeout = activity.info().heartbeat_timeout
    interval = (
        min(timeout.total_seconds() / 3, MAX_INTERVAL_SECONDS) if timeout else MAX_INTERVAL_SECONDS
    )

    async def beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(interval)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
