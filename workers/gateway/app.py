"""The gateway's app: `create_app(settings, client)`. It keeps nothing between requests but
the Temporal client and the configured tokens."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from temporalio.client import Client

from workers.gateway import conversations, errors, page, runs
from workers.gateway.auth import Tokens, load_tokens
from workers.gateway.errors import ApiError
from workers.gateway.guard import Guard
from workers.gateway.models import Health
from workers.gateway.objects import Ownership
from workers.gateway.sse import StreamSlots
from workers.settings import Settings

DESCRIPTION = """Runs and conversations of durable OpenAI assistants, on Temporal.

Every route but the probes (`/livez`, `/readyz`, `/healthz`) takes
`Authorization: Bearer TOKEN`; a token belongs to a tenant, which sees only its own runs
and conversations (anything else is 404). Errors are
`{"error": {"message", "type", "param", "code"}}`."""


def create_app(settings: Settings, client: Client, tokens: Tokens | None = None) -> FastAPI:
    """The app, serving through `client` on `settings.temporal_task_queue`. `tokens`
    default to the settings' (`API_TOKENS`, `API_TOKENS_FILE`)."""
    app = FastAPI(
        title="durable-assistants",
        description=DESCRIPTION,
        version="1",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.client = client
    app.state.streams = StreamSlots(settings.api_max_streams_per_tenant)
    app.state.ownership = Ownership.from_settings(settings)
    errors.install(app)
    app.include_router(runs.router)
    app.include_router(conversations.router)
    page.install(app)

    @app.get("/livez", response_model=Health, tags=["health"])
    async def livez() -> Health:
        """200 while the process serves requests (no token needed)."""
        return Health()

    @app.get("/readyz", response_model=Health, tags=["health"])
    @app.get("/healthz", response_model=Health, tags=["health"])
    async def readyz(request: Request) -> Health:
        """200 when Temporal answers (no token needed)."""
        try:
            client = request.app.state.client
            healthy = await client.service_client.check_health(timeout=timedelta(seconds=5))
        except Exception as err:
            raise ApiError(503, f"Temporal did not answer: {err}") from None
        if not healthy:
            raise ApiError(503, "Temporal says it is not serving")
        return Health()

    app.add_middleware(
        Guard, tokens=tokens or load_tokens(settings), max_body_bytes=settings.api_max_body_bytes
    )
    if settings.cors_origins:  # outermost: answers preflights, which carry no token
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "Last-Event-ID"],
        )
    return app
