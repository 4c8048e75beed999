"""`durable-assistants serve`: the gateway in its own process, until SIGINT or SIGTERM (then
requests in flight get `SHUTDOWN_SECONDS` to finish, and the process exits 0)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator

import structlog
import uvicorn
from fastapi import FastAPI

from workers.connection import connect
from workers.gateway.app import create_app
from workers.gateway.auth import load_tokens
from workers.settings import Settings
from workers.telemetry import Tracing

SHUTDOWN_SECONDS = 10
log = structlog.get_logger("gateway")


class Server(uvicorn.Server):
    """uvicorn, stopping on SIGINT/SIGTERM without raising the signal again at the end (so
    a clean stop exits 0, as the worker does)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        stops = (signal.SIGINT, signal.SIGTERM)
        for stop in stops:
            loop.add_signal_handler(stop, self.handle_exit, stop, None)
        try:
            yield
        finally:
            for stop in stops:
                loop.remove_signal_handler(stop)


async def serve(settings: Settings, host: str, port: int) -> None:
    tokens = load_tokens(settings)  # before connecting: a bad setting says so at once
    tracing = Tracing.from_settings(settings, "serve")
    client = await connect(settings, tracing)
    app = create_app(settings, client, tokens)
    log.info(
        "gateway serving",
        url=f"http://{host}:{port}",
        tenants=sorted({entry.tenant for entry in tokens.entries}),
        task_queue=settings.temporal_task_queue,
    )
    try:
        await serve_app(app, host, port)
    finally:
        if tracing:
            tracing.shutdown()
    log.info("gateway stopped")


async def serve_app(app: FastAPI, host: str, port: int) -> None:
    """Serve `app` with uvicorn until SIGINT or SIGTERM, through the process's logging."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,  # the process's logging: one format, secrets redacted
        proxy_headers=True,
        timeout_graceful_shutdown=SHUTDOWN_SECONDS,
    )
    await Server(config).serve()
