"""Server-Sent Events of a run's progress: `id: <offset>`, `event: <type>`, `data: <event
JSON>`; a reconnecting client sends `Last-Event-ID` and goes on at the next offset. A comment
line every `KEEPALIVE_SECONDS` keeps idle connections open through proxies."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask
from temporalio.client import Client

from workers.follow import follow
from workers.gateway.errors import ApiError
from workflows.run.progress import ProgressEvent

KEEPALIVE_SECONDS = 15.0
MEDIA_TYPE = "text/event-stream"


def message(event: str, data: str, event_id: str | None = None) -> bytes:
    lines = [f"id: {event_id}"] if event_id is not None else []
    lines.append(f"event: {event}")
    lines += [f"data: {line}" for line in data.splitlines() or [""]]
    return ("\n".join(lines) + "\n\n").encode()


def progress_message(event: ProgressEvent, **extra: Any) -> bytes:
    data = event.model_dump(mode="json")
    data.update(extra)
    return message(event.type, json.dumps(data), str(event.offset) if not extra else None)


def error_message(text: str, code: str) -> bytes:
    return message(
        "error", json.dumps({"error": {"message": text, "type": "api_error", "code": code}})
    )


async def run_events(client: Client, workflow_id: str, from_offset: int) -> AsyncIterator[bytes]:
    """The run's events from `from_offset` until its last (`run.ended`)."""
    ended = False
    async for event in follow(client, workflow_id, from_offset=from_offset):
        ended = event.type == "run.ended"
        yield progress_message(event)
    if not ended:
        yield error_message(
            f"run {workflow_id} was closed without its last event (terminated?)", "closed"
        )


async def with_keepalive(events: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """`events`, with a comment line whenever none came for `KEEPALIVE_SECONDS`."""
    iterator = aiter(events)
    pending: asyncio.Future[bytes] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(iterator))
            done, _ = await asyncio.wait({pending}, timeout=KEEPALIVE_SECONDS)
            if not done:
                yield b": keepalive\n\n"
                continue
            try:
                item = pending.result()
            except StopAsyncIteration:
                return
            pending = None
            yield item
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()


class StreamSlots:
    """How many event streams each tenant holds open on this process, up to `per_tenant`:
    a follower costs the Temporal queries it makes for as long as it is connected, so one
    tenant cannot open them without bound (the gateway keeps no state beyond this count:
    with several replicas, each counts its own)."""

    def __init__(self, per_tenant: int) -> None:
        self.per_tenant = per_tenant
        self.open: dict[str, int] = {}

    def take(self, tenant: str) -> Callable[[], None]:
        """A slot for one stream of `tenant` (429 when it has none left); the function that
        gives it back, once, however often it is called."""
        if self.open.get(tenant, 0) >= self.per_tenant:
            raise ApiError(
                429,
                f"this tenant already has {self.per_tenant} event streams open "
                "(API_MAX_STREAMS_PER_TENANT): close one first",
                "too_many_streams",
            )
        self.open[tenant] = self.open.get(tenant, 0) + 1
        given_back = False

        def give_back() -> None:
            nonlocal given_back
            if not given_back:
                given_back = True
                self.open[tenant] -= 1

        return give_back


def stream(events: AsyncIterator[bytes], give_back: Callable[[], None]) -> StreamingResponse:
    """The events as a response that gives its stream slot back when it ends, however it ends
    (the background task runs after a client went away too)."""
    return StreamingResponse(
        with_keepalive(events),
        media_type=MEDIA_TYPE,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        background=BackgroundTask(give_back),
    )
