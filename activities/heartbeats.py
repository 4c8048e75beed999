"""How an activity waits on the API: heartbeating, and finishing what it began creating."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from temporalio import activity

T = TypeVar("T")
MAX_INTERVAL_SECONDS = 1.0


@asynccontextmanager
async def heartbeating(details: Callable[[], Sequence[Any]] = tuple) -> AsyncIterator[None]:
    """Heartbeat in the background for as long as the block runs, so a dead worker is noticed
    and a cancel reaches an activity whose stream or poll is quiet. Each heartbeat carries
    `details()` (where the activity is), which a retry finds in `heartbeat_details`. The SDK
    throttles what it sends (the worker's `max_heartbeat_throttle_interval`)."""
    timeout = activity.info().heartbeat_timeout
    interval = (
        min(timeout.total_seconds() / 3, MAX_INTERVAL_SECONDS) if timeout else MAX_INTERVAL_SECONDS
    )

    async def beat() -> None:
        while True:
            # First sleep: a heartbeat the activity sends itself early on (with where it is)
            # is then the first, which the SDK sends at once instead of throttling it.
            await asyncio.sleep(interval)
            activity.heartbeat(*details())

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()


async def despite_cancel(request: Awaitable[T]) -> tuple[T, bool]:
    """Await a request that creates something to its end, even if the activity is cancelled
    meanwhile: an abandoned request may still be committed by the API a moment later, where
    nothing would find it. Returns its result and whether a cancel arrived."""
    task = asyncio.ensure_future(request)
    try:
        return await asyncio.shield(task), False
    except asyncio.CancelledError:
        return await task, True
