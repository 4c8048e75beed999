"""Event streams read as plain JSON, each event checked only for the fields a step acts on.

The SDK's typed streams validate every event against the union of every event type: pydantic
tries each of its dozens of members in turn, so on a busy worker that was the largest single
cost (a sixth of its Python time, mostly on text deltas). A step reads the handful of fields
it needs through the small models below (`openai_errors.validated`), and validates the run
or response it ends on in full.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, cast

import pydantic
from openai import AsyncStream

Events = AsyncStream[object]


async def untyped(request: Awaitable[Any]) -> Events:
    """The event stream of a `with_raw_response` request made with `stream=True`."""
    return cast(Events, (await request).parse(to=Events))


class ResponseEvent(pydantic.BaseModel):
    """What following a response reads of an event of its stream."""

    type: str
    sequence_number: int
    item_id: str | None = None
    delta: str | None = None
    code: str | None = None
    message: str | None = None
    response: dict[str, Any] | None = None


class ResponseState(pydantic.BaseModel):
    id: str
    status: str | None = None


class RunEvent(pydantic.BaseModel):
    """What following an Assistants run reads of an event of its stream."""

    event: str
    data: Any = None


class RunState(pydantic.BaseModel):
    id: str
    status: str


class DeltaText(pydantic.BaseModel):
    value: str | None = None


class DeltaPart(pydantic.BaseModel):
    type: str
    text: DeltaText | None = None


class Delta(pydantic.BaseModel):
    content: list[DeltaPart] | None = None


class MessageDelta(pydantic.BaseModel):
    id: str
    delta: Delta


class StreamError(pydantic.BaseModel):
    code: str | None = None
    message: str | None = None
