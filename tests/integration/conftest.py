"""The emulator, a worker of the real project on its own task queue, and helpers to run
`AssistantRun` workflows against them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from openai import AsyncOpenAI
from pydantic import SecretStr
from temporalio.client import Client, WorkflowHandle

from emulator.config import EmulatorConfig, FaultRule, Timings
from emulator.server import BackgroundEmulator
from workers.settings import Settings, load_settings
from workers.worker import build_worker, project_tools
from workflows.contracts import RunRequest, RunResult
from workflows.run.workflow import AssistantRun

API_KEY = "sk-integration"
REPO_ROOT = Path(__file__).resolve().parents[2]
WORKER_CLI = str(Path(sys.executable).parent / "durable-assistants")
TOOLS_MODULES = "activities.example_tools,tests.integration.run_tools"
FAST = Timings(queued=0.02, in_progress=0.05, cancelling=0.02, indexing=0.05)


@pytest.fixture(scope="session")
def api() -> Iterator[BackgroundEmulator]:
    with BackgroundEmulator(EmulatorConfig(api_key=API_KEY, timings=FAST)) as server:
        yield server


SECRETS = (API_KEY, "Bearer ")


@pytest.fixture(scope="session", autouse=True)
async def no_history_contains_a_secret(client: Client) -> AsyncIterator[None]:
    """After the session's tests, every workflow history of its dev server is scanned for the
    OpenAI API key the workers used and for bearer tokens (a failure is the session's error)."""
    yield
    async for execution in client.list_workflows():
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        text = (await handle.fetch_history()).to_json()
        leaked = [secret for secret in SECRETS if secret in text]
        assert not leaked, f"{execution.id} history contains {leaked}"


@pytest.fixture
def settings(api: BackgroundEmulator, task_queue: str, temporal_address: str) -> Settings:
    return load_settings(
        temporal_address=temporal_address,
        temporal_task_queue=task_queue,
        openai_base_url=api.base_url,
        openai_api_key=SecretStr(API_KEY),
        tools_modules=TOOLS_MODULES,
        graceful_shutdown_seconds=0.5,
    )


@pytest.fixture
async def worker(client: Client, settings: Settings) -> AsyncIterator[None]:
    async with build_worker(client, settings):
        yield


@pytest.fixture
async def openai(api: BackgroundEmulator) -> AsyncIterator[AsyncOpenAI]:
    async with AsyncOpenAI(base_url=api.base_url, api_key=API_KEY, max_retries=0) as client:
        yield client


@pytest.fixture
async def assistant_id(openai: AsyncOpenAI, settings: Settings) -> str:
    """An assistant with every registered tool, as `tools schema` prints them."""
    tools = project_tools(settings).definitions("assistants")
    assistant = await openai.beta.assistants.create(
        model="gpt-4o",
        name=f"test-{uuid.uuid4().hex[:8]}",
        tools=tools,  # type: ignore[arg-type]
    )
    return assistant.id


class Counters:
    """The emulator's counters, read over HTTP, relative to when this object was made."""

    def __init__(self, api: BackgroundEmulator) -> None:
        self.url = f"{api.admin_url}/counters"
        self.start = self.read()

    def read(self) -> dict[str, dict[str, int]]:
        snapshot: dict[str, dict[str, int]] = httpx.get(self.url).json()
        return snapshot

    def of_thread(self, name: str, thread_id: str) -> int:
        return self.read().get(name, {}).get(thread_id, 0)

    def delta(self, name: str, key: str = "total") -> int:
        now = self.read().get(name, {}).get(key, 0)
        return now - self.start.get(name, {}).get(key, 0)


@pytest.fixture
def faults(api: BackgroundEmulator) -> Iterator[Callable[..., None]]:
    """Install fault rules on the emulator for one test."""

    def install(*rules: FaultRule) -> None:
        api.emulator.config = api.emulator.config.model_copy(update={"faults": list(rules)})

    yield install
    install()


@pytest.fixture
def counters(api: BackgroundEmulator) -> Counters:
    return Counters(api)


def ask(assistant_id: str, text: str, **fields: Any) -> RunRequest:
    return RunRequest.model_validate(
        {"assistant_id": assistant_id, "messages": [{"content": text}], **fields}
    )


async def start(
    client: Client, task_queue: str, request: RunRequest
) -> WorkflowHandle[AssistantRun, RunResult]:
    return await client.start_workflow(
        AssistantRun.run, request, id=f"run-{uuid.uuid4()}", task_queue=task_queue
    )


async def run(client: Client, task_queue: str, request: RunRequest) -> RunResult:
    return await (await start(client, task_queue, request)).result()


@pytest.fixture
def worker_process(
    settings: Settings, temporal_address: str
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start `durable-assistants worker` processes on demand; all are killed at the end."""
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        process.kill()
        process.wait()


def cli_env(settings: Settings) -> dict[str, str]:
    """The environment a `durable-assistants` process needs to reach this test's Temporal
    server, task queue, emulator and tools."""
    return {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(REPO_ROOT),
        "TEMPORAL_ADDRESS": settings.temporal_address or "",
        "TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
        "OPENAI_BASE_URL": settings.openai_base_url or "",
        "OPENAI_API_KEY": API_KEY,
        "TOOLS_MODULES": TOOLS_MODULES,
    }


async def run_cli(
    settings: Settings, *args: str, cwd: Path | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`durable-assistants ARGS...` as a user types it, without blocking the event loop."""
    return await asyncio.to_thread(
        subprocess.run,
        [WORKER_CLI, *args],
        env=cli_env(settings),
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def spawn_worker(settings: Settings, temporal_address: str) -> subprocess.Popen[bytes]:
    env = {**cli_env(settings), "TEMPORAL_ADDRESS": temporal_address, "LOG_FORMAT": "json"}
    return subprocess.Popen(
        [WORKER_CLI, "worker"], env=env, cwd=REPO_ROOT, stderr=subprocess.DEVNULL
    )
