"""What every request passes before any route runs: the bearer token (401 before anything is
read or started) and the body size limit (413)."""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workers.gateway.auth import Tokens
from workers.gateway.errors import error_body

PUBLIC_PATHS = frozenset(
    {"/", "/healthz", "/livez", "/readyz", "/docs", "/openapi.json", "/favicon.ico"}
)
PUBLIC_PREFIXES = ("/static/",)


class Guard:
    """Pure ASGI middleware: the tenant of the caller's token goes to `request.state.tenant`;
    a missing or unknown token is 401 and a body over `max_body_bytes` is 413, both before the
    route reads anything."""

    def __init__(self, app: ASGIApp, tokens: Tokens, max_body_bytes: int) -> None:
        self.app = app
        self.tokens = tokens
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path not in PUBLIC_PATHS and not path.startswith(PUBLIC_PREFIXES):
            headers = dict(scope["headers"])
            authorization = headers.get(b"authorization", b"").decode("latin-1")
            tenant = self.tokens.tenant_of(authorization)
            if tenant is None:
                await _refuse(
                    send,
                    401,
                    "a valid `Authorization: Bearer TOKEN` header is required",
                    "authentication_error",
                    "invalid_token",
                )
                return
            scope.setdefault("state", {})["tenant"] = tenant
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            await _refuse(
                send,
                413,
                too_large(self.max_body_bytes),
                "invalid_request_error",
                "request_too_large",
            )
            return
        await self.app(scope, _Limited(receive, self.max_body_bytes), send)


def too_large(limit: int) -> str:
    return f"the request body is larger than {limit} bytes (API_MAX_BODY_BYTES)"


class _Limited:
    """`receive` that counts the body's bytes: over the limit (a body sent without its
    length), reading it raises a 413 the error handlers answer."""

    def __init__(self, receive: Receive, limit: int) -> None:
        self.receive = receive
        self.limit = limit
        self.seen = 0

    async def __call__(self) -> Message:
        message = await self.receive()
        if message["type"] == "http.request":
            self.seen += len(message.get("body", b""))
            if self.seen > self.limit:
                raise HTTPException(413, too_large(self.limit))
        return message


async def _refuse(send: Send, status: int, message: str, kind: str, code: str) -> None:
    body = json.dumps(error_body(message, kind, code=code)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
