"""`durable-assistants serve`: the gateway in its own process, until SIGINT or SIGTERM."""

from __future__ import annotations

import structlog
import uvicorn

from workers.connection import connect
from workers.gateway.app import create_app
from workers.gateway.auth import load_tokens
from workers.settings import Settings

log = structlog.get_logger("gateway")


async def serve(settings: Settings, host: str, port: int) -> None:
    tokens = load_tokens(settings)  # before connecting: a bad setting says so at once
    client = await connect(settings)
    app = create_app(settings, client, tokens)
    tenants = sorted({entry.tenant for entry in tokens.entries})
    log.info(
        "gateway serving",
        url=f"http://{host}:{port}",
        tenants=tenants,
        task_queue=settings.temporal_task_queue,
    )
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            proxy_headers=True,
            timeout_graceful_shutdown=10,
        )
    )
    await server.serve()
