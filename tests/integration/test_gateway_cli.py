"""`durable-assistants serve` and `token` as a user runs them: a token made by `token` opens
the API of a `serve` process, which stops cleanly on SIGTERM and never logs the token; without
a token configured `serve` refuses to start, in one line."""

from __future__ import annotations

import asyncio
import signal
import subprocess

import httpx2 as httpx

from tests.ports import free_port
from workers.settings import Settings

from .conftest import WORKER_CLI, cli_env, run_cli
from .test_gateway import run_body, until_closed
from .test_processes import read_until


def spawn_serve(settings: Settings, port: int, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [WORKER_CLI, "serve", "--port", str(port)],
        env={**cli_env(settings), "LOG_FORMAT": "json", **env},
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_a_token_made_by_the_cli_opens_the_api_of_a_serve_process(
    settings: Settings, worker: None
) -> None:
    assistant = {"name": "greeter", "model": "gpt-4o"}  # a tenant names a spec
    made = await run_cli(settings, "token", "acme")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    configured = made.stderr.strip().removeprefix("configure: API_TOKENS=")
    port = free_port()
    process = spawn_serve(settings, port, {"API_TOKENS": configured})
    try:
        await asyncio.to_thread(read_until, process, process.stderr, "gateway serving", 60)
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            for _ in range(100):
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            http.headers["Authorization"] = f"Bearer {token}"
            started = await http.post("/v1/runs", json=run_body(assistant, "Hello there"))
            assert started.status_code == 201, started.text
            assert (await until_closed(http, started.json()["id"]))["status"] == "completed"
            assert (await http.get("/")).headers["content-type"].startswith("text/html")
        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 30) == 0
        assert process.stderr is not None
        logged = process.stderr.read()
        assert "POST /v1/runs" in logged
        assert token not in logged
    finally:
        process.kill()
        process.wait()


async def test_serve_without_a_token_configured_refuses_to_start(settings: Settings) -> None:
    refused = await run_cli(settings, "serve", "--port", str(free_port()))
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "error: API_TOKENS, API_TOKENS_FILE: `serve` needs at least one token "
        "(`durable-assistants token TENANT` makes one)"
    ]
