"""`durable-assistants codec-server`: Temporal's remote codec protocol, so the Temporal UI and
the `temporal` CLI show payloads encrypted with PAYLOAD_ENCRYPTION_KEYS decrypted.

`POST /encode` and `POST /decode` (also under a namespace, `/{namespace}/decode`, as the CLI's
`--codec-endpoint http://host:8888/{namespace}` asks) take and return `{"payloads": [...]}`,
the proto-JSON form of `temporal.api.common.v1.Payloads`. Every request needs
`Authorization: Bearer TOKEN` with a token whose sha256 is in CODEC_SERVER_TOKENS (compared in
constant time), unless the server was started with `--insecure-no-auth`. Browsers may call it
from CODEC_SERVER_CORS_ORIGINS (default: the Temporal UI's origin), with credentials.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import structlog
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from workers.codec import VARIABLE, EncryptionCodec, PayloadDecryptionError
from workers.gateway.auth import TokenEntry, Tokens
from workers.gateway.server import serve_app
from workers.settings import Settings, SettingsError

log = structlog.get_logger("codec-server")

Transform = Callable[[Sequence[Payload]], Awaitable[list[Payload]]]


def create_codec_app(
    codec: EncryptionCodec, token_digests: Sequence[str] | None, cors_origins: Sequence[str]
) -> FastAPI:
    """The app. `token_digests`: the sha256 (hex) of the accepted bearer tokens; None serves
    anyone (`--insecure-no-auth`)."""
    tokens = (
        None
        if token_digests is None
        else Tokens(tuple(TokenEntry(tenant="codec", sha256=d) for d in token_digests))
    )
    app = FastAPI(
        title="durable-assistants codec server", docs_url=None, redoc_url=None, openapi_url=None
    )

    async def apply(request: Request, transform: Transform) -> Response:
        if tokens is not None and tokens.tenant_of(request.headers.get("authorization")) is None:
            return _error(401, "a valid bearer token is required (CODEC_SERVER_TOKENS)")
        try:
            payloads = json_format.Parse(await request.body(), Payloads())
        except json_format.ParseError as err:
            return _error(400, f'expected {{"payloads": [...]}} as proto JSON: {err}')
        try:
            done = Payloads(payloads=await transform(payloads.payloads))
        except PayloadDecryptionError as err:
            return _error(400, str(err))
        namespace = request.headers.get("x-namespace")
        log.debug(
            "codec request", path=request.url.path, namespace=namespace, count=len(done.payloads)
        )
        return Response(json_format.MessageToJson(done), media_type="application/json")

    async def encode(request: Request) -> Response:
        return await apply(request, codec.encode)

    async def decode(request: Request) -> Response:
        return await apply(request, codec.decode)

    for prefix in ("", "/{namespace}"):  # the protocol looks only at the path's last part
        app.add_api_route(f"{prefix}/encode", encode, methods=["POST"])
        app.add_api_route(f"{prefix}/decode", decode, methods=["POST"])

    if cors_origins:  # outermost: answers preflights, which carry no token
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_credentials=True,
            allow_methods=["POST"],
            allow_headers=["Authorization", "Content-Type", "X-Namespace"],
        )
    return app


def _error(status: int, message: str) -> JSONResponse:
    kind = "unauthorized" if status == 401 else "invalid_request"
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": {"message": message, "type": kind}}, status, headers=headers)


def codec_app(settings: Settings, insecure_no_auth: bool) -> FastAPI:
    """The app of the settings; a `SettingsError` when there is nothing to decode with or no
    token to check (unless `insecure_no_auth`)."""
    keys = settings.encryption_keys
    if not keys:
        raise SettingsError(
            f"{VARIABLE}: not set; `codec-server` decodes with the keys payloads were encrypted "
            "with (`durable-assistants codec-key` makes one)"
        )
    digests: list[str] | None = settings.codec_server_digests
    if insecure_no_auth:
        log.warning(
            "codec server without authentication: anyone who reaches it can decrypt payloads",
            ignored_tokens=len(digests or []),
        )
        digests = None
    elif not digests:
        raise SettingsError(
            "CODEC_SERVER_TOKENS: `codec-server` needs at least one token "
            "(`durable-assistants codec-token` makes one), or --insecure-no-auth to serve "
            "anyone who can reach it"
        )
    return create_codec_app(EncryptionCodec(keys), digests, settings.codec_cors_origins)


async def serve_codec(app: FastAPI, settings: Settings, host: str, port: int) -> None:
    """Serve until SIGINT or SIGTERM."""
    log.info(
        "codec server serving",
        url=f"http://{host}:{port}",
        encrypting_with=settings.encryption_keys[-1].id,
        keys=[key.id for key in settings.encryption_keys],
        cors_origins=settings.codec_cors_origins,
    )
    await serve_app(app, host, port)
    log.info("codec server stopped")
