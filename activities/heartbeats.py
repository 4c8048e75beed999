"""How an activity waits on the API: heartbeating, and finishing what it began creating."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from temporalio import activity
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

T = TypeVar("T")
MAX_INTERVAL_SECONDS = 1.0
_pace: ContextVar[float] = ContextVar("heartbeat_pace", default=MAX_INTERVAL_SECONDS)


class HeartbeatPace(Interceptor):
    """Paces `heartbeating` to the worker's heartbeat throttle: the SDK sends at most one
    heartbeat per throttle interval, and each call costs the worker an encode, so beating
    faster only burns CPU (a worker holding thousands of waiting runs spent a core on it)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _PacedInbound(next, self.seconds)


class _PacedInbound(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, seconds: float) -> None:
        super().__init__(next)
        self.seconds = seconds

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        _pace.set(self.seconds)
        return await self.next.execute_activity(input)


@dataclass
class Watched:
    """The API object an activity waits on, as its heartbeats carry it (a retry, the Temporal
    UI and `durable-assistants status` read it from the pending activity)."""

    id: str | None = None
    status: str | None = None

    def details(self) -> tuple[Any, ...]:
        return ({"id": self.id, "status": self.status},) if self.id else ()


_watched: ContextVar[Watched | None] = ContextVar("watched", default=None)


def watch(object_id: str, status: str) -> None:
    """Note the API object the running activity waits on, for its next heartbeat."""
    if (watched := _watched.get()) is not None:
        watched.id, watched.status = object_id, status


def _watching() -> Callable[[], Sequence[Any]]:
    watched = Watched()
    _watched.set(watched)
    return watched.details


def beat_interval() -> float:
    """Seconds between the running activity's beats: its worker's throttle (`HeartbeatPace`),
    and at least three beats per heartbeat timeout."""
    timeout = activity.info().heartbeat_timeout
    return min(timeout.total_seconds() / 3, _pace.get()) if timeout else _pace.get()


@asynccontextmanager
async def heartbeating(details: Callable[[], Sequence[Any]] | None = None) -> AsyncIterator[None]:
    """Heartbeat in the background for as long as the block runs, so a dead worker is noticed
    and a cancel reaches an activity whose stream or poll is quiet. Each heartbeat carries
    `details()` (where the activity is; by default what it last `watch`ed), which a retry
    finds in `heartbeat_details`. The SDK throttles what it sends (the worker's
    `max_heartbeat_throttle_interval`, which `HeartbeatPace` paces the beats to)."""
    beat_details = details or _watching()
    interval = beat_interval()

    async def beat() -> None:
        while True:
            # First sleep: a heartbeat the activity sends itself early on (with where it is)
            # is then the first, which the SDK sends at once instead of throttling it.
            await asyncio.sleep(interval)
            activity.heartbeat(*beat_details())

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
