"""The HTTP gateway on a free port, served by uvicorn in the test's event loop, through the
test's Temporal client to its worker's task queue; and HTTP clients with each tenant's token.
Re-exported by `conftest.py` (and `tests/browser/conftest.py`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx2 as httpx
import pytest
import uvicorn
from pydantic import SecretStr
from temporalio.client import Client

from workers.gateway.app import create_app
from workers.gateway.auth import token_digest
from workers.settings import Settings

TOKENS = {"acme": "da_test_acme_0123456789", "globex": "da_test_globex_9876543210"}
"""Each tenant's bearer token (only their sha256 is configured)."""


@dataclass
class Gateway:
    url: str
    settings: Settings

    def as_tenant(self, tenant: str | None, token: str | None = None) -> httpx.AsyncClient:
        """A client with the tenant's token (or `token`, or none)."""
        secret = token if token is not None else TOKENS.get(tenant or "")
        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=120)


def gateway_settings(settings: Settings) -> Settings:
    tokens = ",".join(f"{tenant}:{token_digest(token)}" for tenant, token in TOKENS.items())
    return settings.model_copy(update={"api_tokens": SecretStr(tokens)})


@contextlib.asynccontextmanager
async def serving(client: Client, settings: Settings) -> AsyncIterator[Gateway]:
    """`durable-assistants serve` as its app with `settings` (and the tenants' tokens), on a
    free loopback port, through `client`."""
    settings = gateway_settings(settings)
    app = create_app(settings, client)
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listening.bind(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
    )
    serving = asyncio.create_task(server.serve(sockets=[listening]))
    while not server.started:
        if serving.done():
            serving.result()
        await asyncio.sleep(0.01)
    try:
        yield Gateway(f"http://127.0.0.1:{port}", settings)
    finally:
        server.should_exit = True
        await serving
        listening.close()


@pytest.fixture
async def gateway(client: Client, settings: Settings, worker: None) -> AsyncIterator[Gateway]:
    """`durable-assistants serve` as its app, on a free loopback port (and the worker)."""
    async with serving(client, settings) as served:
        yield served


@pytest.fixture
async def acme(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    async with gateway.as_tenant("acme") as http:
        yield http


@pytest.fixture
async def globex(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    async with gateway.as_tenant("globex") as http:
        yield http


async def sse_events(
    response: httpx.Response, limit: int | None = None, until: str | None = None
) -> list[tuple[str | None, str, dict[str, Any]]]:
    """(id, event, data) of a Server-Sent Events response, up to `limit` events or the first
    event of kind `until`."""
    events: list[tuple[str | None, str, dict[str, Any]]] = []
    event_id, kind, data = None, "message", []
    async for line in response.aiter_lines():
        if line.startswith("id:"):
            event_id = line[3:].strip()
        elif line.startswith("event:"):
            kind = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif line == "" and data:
            events.append((event_id, kind, json.loads("\n".join(data))))
            if (limit is not None and len(events) >= limit) or kind == until:
                break
            event_id, kind, data = None, "message", []
    return events
