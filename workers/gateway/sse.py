"""Server-Sent Events of a run's progress: `id: <offset>`, `event: <type>`, `data: <event
JSON>`; a reconnecting client sends `Last-Event-ID` and goes on at the next offset. A comment
line every `KEEPALIVE_SECONDS` keeps idle connections open through proxies."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi.responses import StreamingResponse
from temporalio.client import Client

from workers.follow import follow
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


def stream(events: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(
        with_keepalive(events),
        media_type=MEDIA_TYPE,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
