"""HTTP-level fault injection: rate limits, server errors, latency and dropped connections.

Rules come from the emulator's configuration (at start or through the admin endpoint) and from
the `X-Emulator-Fault` header of a single request (`status=429 retry_after=0.5`, `drop=stream`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator import sse
from emulator.config import FaultRule
from emulator.directives import parse_pairs
from emulator.errors import APIError, invalid, out_of_quota, rate_limited, server_error
from emulator.store import Counters

FAULT_HEADER = b"x-emulator-fault"
_STREAM_ERROR_MESSAGE = "The server had an error while processing your request."


class DroppedConnection(Exception):
    """Raised inside the ASGI app so the server closes the connection mid-response."""


class _SilenceDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], DroppedConnection))


logging.getLogger("uvicorn.error").addFilter(_SilenceDrops())


def parse_rule(text: str) -> FaultRule:
    """A rule from `key=value` pairs (`status=429 rate=0.3 retry_after=1`); ValueError if bad."""
    try:
        return FaultRule.model_validate_strings(parse_pairs(text))
    except APIError as err:
        raise ValueError(err.message) from None
    except ValidationError as err:
        problem = err.errors()[0]
        raise ValueError(f"{problem['loc'][0]}: {problem['msg']}") from None


def rule_from_header(value: str) -> FaultRule:
    try:
        return parse_rule(value)
    except ValueError as err:
        raise invalid(f"Invalid X-Emulator-Fault header: {err}") from None


class FaultInjector:
    """ASGI middleware applying at most one fault rule to each `/v1` request."""

    def __init__(
        self,
        app: ASGIApp,
        rules: Callable[[], list[FaultRule]],
        counters: Callable[[], Counters],
        seed: int = 0,
    ) -> None:
        self.app = app
        self.rules = rules
        self.counters = counters
        self.dice = random.Random(seed)
        self.installed: list[FaultRule] = []
        self.hits: dict[int, int] = {}  # by the rule's place in `installed`

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        try:
            rule = self._choose(scope)
        except APIError as err:
            await err.response()(scope, receive, send)
            return
        if rule is None:
            await self.app(scope, receive, send)
            return
        await self._apply(rule, scope, receive, send)

    def _choose(self, scope: Scope) -> FaultRule | None:
        header = dict(scope["headers"]).get(FAULT_HEADER)
        if header is not None:
            return rule_from_header(header.decode())
        target = f"{scope['method']} {scope['path']}"
        rules = self.rules()
        if rules is not self.installed:
            # Newly installed rules count their hits afresh (a rule's id() is no key: a new
            # rule often takes the memory, and so the id, of one that was used up and freed).
            self.installed, self.hits = rules, {}
        for place, rule in enumerate(rules):
            if rule.times is not None and self.hits.get(place, 0) >= rule.times:
                continue
            if not re.search(rule.route, target):
                continue
            if self.dice.random() < rule.rate:
                self.hits[place] = self.hits.get(place, 0) + 1
                return rule
        return None

    async def _apply(self, rule: FaultRule, scope: Scope, receive: Receive, send: Send) -> None:
        if rule.latency:
            self.counters().count("faults_injected", "latency")
            receive = await _read_now(receive)
            await asyncio.sleep(rule.latency)
        if rule.status is not None:
            self.counters().count("faults_injected", str(rule.status))
            await _status_error(rule).response()(scope, receive, send)
            return
        if rule.corrupt is not None:
            self.counters().count("faults_injected", f"corrupt_{rule.corrupt}")
            await self.app(scope, receive, _corrupting(send, rule.corrupt, rule.after_events))
            return
        if rule.drop is None:
            await self.app(scope, receive, send)
            return
        self.counters().count("faults_injected", f"drop_{rule.drop}")
        await self.app(scope, receive, _dropping(send, rule))


def _status_error(rule: FaultRule) -> APIError:
    assert rule.status is not None
    if rule.status == 429 and rule.quota:
        error = out_of_quota()
    elif rule.status == 429:
        error = rate_limited(rule.retry_after if rule.retry_after is not None else 1.0)
    else:
        error = server_error(rule.status, rule.retry_after)
    error.headers.update(rule.headers)
    return error


async def _read_now(receive: Receive) -> Receive:
    """Read the whole request before a pause, as the API has it once sent: a client that goes
    away meanwhile does not stop the request from being handled (and committed) late."""
    received: list[Message] = []
    while True:
        message = await receive()
        received.append(message)
        if message["type"] != "http.request" or not message.get("more_body"):
            break

    async def replay() -> Message:
        return received.pop(0) if received else await receive()

    return replay


def _corrupting(send: Send, how: str, after_events: int) -> Send:
    """Send a JSON response malformed, or each event of a stream after the first
    `after_events` with malformed data; other responses pass untouched."""
    start: Message = {}
    kind = "other"
    body = b""
    events = 0

    async def corrupting_send(message: Message) -> None:
        nonlocal start, kind, body, events
        if message["type"] == "http.response.start":
            content_type = dict(message.get("headers", [])).get(b"content-type", b"")
            kind = "json" if b"application/json" in content_type else "other"
            kind = "stream" if b"text/event-stream" in content_type else kind
            start = message
            if kind != "json":
                await send(message)
            return
        if kind == "stream" and message.get("body"):
            events += 1
            if events > after_events:
                message = {**message, "body": _malform_events(message["body"], how)}
        if kind != "json":
            await send(message)
            return
        body += message.get("body", b"")
        if message.get("more_body"):
            return
        malformed = _malform(body, how)
        headers = dict(start.get("headers", []))
        headers[b"content-length"] = str(len(malformed)).encode()
        await send({**start, "headers": list(headers.items())})
        await send({"type": "http.response.body", "body": malformed})

    return corrupting_send


def _malform_events(chunk: bytes, how: str) -> bytes:
    """Malform the data of each event in a chunk of a stream (a response an event carries
    too, as the Responses API's lifecycle events do)."""
    lines = []
    for line in chunk.split(b"\n"):
        if line.startswith(b"data: {"):
            data = _malform(line[len(b"data: ") :], how)
            if how != "truncate":
                document = json.loads(data)
                if isinstance(document.get("response"), dict):
                    response = json.dumps(document["response"]).encode()
                    document["response"] = json.loads(_malform(response, how))
                data = json.dumps(document).encode()
            line = b"data: " + data
        lines.append(line)
    return b"\n".join(lines)


def _malform(body: bytes, how: str) -> bytes:
    if how == "truncate":
        return body[: len(body) // 2]
    try:
        document = json.loads(body)
    except json.JSONDecodeError:
        return body
    if isinstance(document, dict):
        if how == "unknown_status":
            document["status"] = "bewildered"
        else:
            document.pop("id", None)
            document.pop("status", None)
    return json.dumps(document).encode()


def _dropping(send: Send, rule: FaultRule) -> Send:
    where, error_code = rule.drop, rule.error_code
    bodies = 0

    async def dropping_send(message: Message) -> None:
        nonlocal bodies
        if message["type"] == "http.response.start":
            await send(message)
            if where == "headers":
                raise DroppedConnection
            return
        bodies += 1
        body: Any = message.get("body", b"")
        if where == "body" and body:
            await send(
                {"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True}
            )
            raise DroppedConnection
        if where in ("stream", "error") and bodies > rule.after_events:
            if where == "error":
                await send({"type": "http.response.body", "body": _error_event(error_code)})
            raise DroppedConnection
        await send(message)

    return dropping_send


def _error_event(code: str) -> bytes:
    """The `error` event a stream ends with when the API fails mid-stream."""
    error = {"code": code, "message": _STREAM_ERROR_MESSAGE, "param": None, "type": code}
    return sse.event("error", error)
