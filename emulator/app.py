"""The emulator's ASGI application: `/v1` speaks the OpenAI API, `/_emulator` is for tests."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator import (
    assistants,
    containers,
    conversations,
    files,
    prompts,
    responses,
    runs,
    threads,
    vector_stores,
)
from emulator.config import EmulatorConfig
from emulator.errors import APIError, bad_api_key, missing_api_key
from emulator.faults import DroppedConnection, FaultInjector
from emulator.http import ok
from emulator.state import Emulator, LoggedRequest
from emulator.store import Store

log = logging.getLogger(__name__)
AUTOSAVE_SECONDS = 1.0


class _Authenticate:
    def __init__(self, app: ASGIApp, emulator: Emulator) -> None:
        self.app = app
        self.emulator = emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1/"):
            header = dict(scope["headers"]).get(b"authorization", b"").decode()
            key = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
            expected = self.emulator.config.api_key
            if not key:
                await missing_api_key().response()(scope, receive, send)
                return
            if expected is not None and key != expected:
                await bad_api_key(key).response()(scope, receive, send)
                return
        await self.app(scope, receive, send)


class _TrackChanges:
    """Tells the state file's autosave which requests may have changed the store."""

    def __init__(self, app: ASGIApp, emulator: Emulator) -> None:
        self.app = app
        self.emulator = emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with self.emulator.handling_request():
            await self.app(scope, receive, send)


class _CountRequests:
    """Counts requests per route template and status: `POST /v1/threads/{thread_id}/runs 200`."""

    def __init__(self, app: ASGIApp, emulator: Emulator) -> None:
        self.app = app
        self.emulator = emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        status = 0
        arrived = answered = time.time()

        async def recording_send(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status, answered = message["status"], time.time()
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = scope.get("route")
            path = "/v1" + route.path if isinstance(route, Route) else scope["path"]
            self.emulator.store.counters.count("requests", f"{scope['method']} {path} {status}")
            self.emulator.request_log.append(
                LoggedRequest(
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    arrived=arrived,
                    answered=answered,
                )
            )


async def _api_error(_: Request, error: Exception) -> Response:
    assert isinstance(error, APIError)
    return error.response()


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    message = f"Invalid URL ({request.method} {request.url.path})"
    return APIError(error.status_code, message).response()


async def _unexpected(_: Request, error: Exception) -> Response:
    if not isinstance(error, DroppedConnection):  # an injected fault, not a bug
        log.exception("emulator bug", exc_info=error)
    return APIError(500, f"Emulator error: {error!r}", type="server_error").response()


def _admin_routes(emulator: Emulator) -> list[BaseRoute]:
    async def counters(_: Request) -> Response:
        return ok(emulator.store.counters.snapshot())

    async def requests(request: Request) -> Response:
        """The request log (arrival and answer times, epoch seconds), from `?since=` on."""
        since = float(request.query_params.get("since", "0"))
        logged = [r._asdict() for r in emulator.request_log if r.arrived >= since]
        return ok({"data": logged})

    async def reset(_: Request) -> Response:
        emulator.reset()
        return ok({"reset": True})

    async def get_config(_: Request) -> Response:
        return ok(emulator.config.model_dump(mode="json"))

    async def put_config(request: Request) -> Response:
        try:
            emulator.config = EmulatorConfig.model_validate_json(await request.body())
        except ValidationError as err:
            return APIError(400, f"Invalid emulator config: {err.errors()[0]['msg']}").response()
        return ok(emulator.config.model_dump(mode="json"))

    async def health(_: Request) -> Response:
        return ok({"status": "ok"})

    async def define_prompt(request: Request) -> Response:
        """A reusable prompt, as made in OpenAI's dashboard: a new version each time."""
        body = await request.json()
        return ok(prompts.define(emulator.store, request.path_params["prompt_id"], body))

    return [
        Route("/counters", counters, methods=["GET"]),
        Route("/requests", requests, methods=["GET"]),
        Route("/reset", reset, methods=["POST"]),
        Route("/config", get_config, methods=["GET"]),
        Route("/config", put_config, methods=["PUT"]),
        Route("/health", health, methods=["GET"]),
        Route("/prompts/{prompt_id}", define_prompt, methods=["PUT"]),
    ]


def create_app(
    config: EmulatorConfig | None = None,
    *,
    store: Store | None = None,
    state_file: Path | None = None,
) -> Starlette:
    emulator = Emulator(config or EmulatorConfig(), store, state_file)
    api_routes: list[BaseRoute] = [
        *files.routes(),
        *assistants.routes(),
        *runs.routes(),  # before threads: POST /threads/runs is not /threads/{thread_id}
        *threads.routes(),
        *vector_stores.routes(),
        *responses.routes(),
        *conversations.routes(),
        *containers.routes(),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        autosave = asyncio.create_task(_autosave(emulator))
        try:
            yield
        finally:
            autosave.cancel()
            emulator.save()

    app = Starlette(
        routes=[
            Mount("/v1", routes=api_routes),
            Mount("/_emulator", routes=_admin_routes(emulator)),
        ],
        exception_handlers={
            APIError: _api_error,
            HTTPException: _http_error,
            Exception: _unexpected,
        },
        lifespan=lifespan,
    )
    app.state.emulator = emulator
    app.add_middleware(_Authenticate, emulator=emulator)
    app.add_middleware(
        FaultInjector,
        rules=lambda: emulator.config.faults,
        counters=lambda: emulator.store.counters,
        seed=emulator.config.seed,
    )
    app.add_middleware(_CountRequests, emulator=emulator)
    app.add_middleware(_TrackChanges, emulator=emulator)
    return app


async def _autosave(emulator: Emulator) -> None:
    while True:
        await asyncio.sleep(AUTOSAVE_SECONDS)
        emulator.save()


def emulator_of(app: Any) -> Emulator:
    found: Emulator = app.state.emulator
    return found
