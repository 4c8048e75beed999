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
import openai as openai_sdk
import pytest
from openai import AsyncOpenAI
from pydantic import SecretStr
from temporalio.api.history.v1 import History
from temporalio.client import Client, WorkflowHandle

from emulator.config import EmulatorConfig, FaultRule, Timings
from emulator.server import BackgroundEmulator
from workers.settings import Settings, load_settings
from workers.wiring import project_tools
from workers.worker import build_worker
from workflows.contracts import RunRequest, RunResult, RunState
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
        history = await handle.fetch_history()
        # payload data is base64 in the JSON form: the proto's bytes hold it as written
        raw = History(events=list(history.events)).SerializeToString()
        text = history.to_json()
        leaked = [s for s in SECRETS if s in text or s.encode() in raw]
        assert not leaked, f"{execution.id} history contains {leaked}"


BACKENDS = ["assistants", "responses"]
both_backends = pytest.mark.parametrize("backend", BACKENDS, indirect=True)
"""Runs a test (or a module: `pytestmark = both_backends`) on both API backends."""


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """The worker's OPENAI_BACKEND: assistants unless the test is run on both."""
    return str(getattr(request, "param", "assistants"))


@pytest.fixture
def settings(
    api: BackgroundEmulator, task_queue: str, temporal_address: str, backend: str
) -> Settings:
    return load_settings(
        temporal_address=temporal_address,
        temporal_task_queue=task_queue,
        openai_base_url=api.base_url,
        openai_api_key=SecretStr(API_KEY),
        openai_backend=backend,
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
    return await create_assistant(openai, settings)


async def create_assistant(openai: AsyncOpenAI, settings: Settings) -> str:
    """An assistant with every registered tool, as `tools schema` prints them."""
    tools = project_tools(settings).definitions("assistants")
    assistant = await openai.beta.assistants.create(
        model="gpt-4o",
        name=f"test-{uuid.uuid4().hex[:8]}",
        tools=tools,  # type: ignore[arg-type]
    )
    return assistant.id


Assistant = str | dict[str, Any]
"""What `ask` runs: an assistant's id, or the `assistant` spec of a run (responses backend)."""


@pytest.fixture
async def assistant(
    backend: str, openai: AsyncOpenAI, settings: Settings, request: pytest.FixtureRequest
) -> Assistant:
    """Every registered tool: an assistant on the assistants backend, a spec on responses,
    and a spec for a tenant of the gateway (an assistant id names an object, which must be
    one made for the tenant: the assistant ensured from its spec is)."""
    if backend == "assistants" and "gateway" not in request.fixturenames:
        return await create_assistant(openai, settings)
    names = [registered.spec.name for registered in project_tools(settings)]
    return {"name": f"test-{uuid.uuid4().hex[:8]}", "model": "gpt-4o", "tools": names}


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


async def until_counted(counters: Counters, name: str, key: str, at_least: int = 1) -> None:
    """Wait until the emulator has counted `at_least` of `name` for `key` since `counters`."""
    for _ in range(400):
        if counters.delta(name, key) >= at_least:
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"the emulator never counted {name}/{key}")


async def until(
    handle: WorkflowHandle[AssistantRun, RunResult], ready: Callable[[RunState], bool]
) -> RunState:
    for _ in range(200):
        state = await handle.query(AssistantRun.state)
        if ready(state):
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"never reached the expected state: {state}")


class Seen:
    """What the emulator saw of a run, in the same terms on both backends. A run is an API
    run on a thread (assistants) or a chain of responses tagged with its workflow id."""

    def __init__(self, backend: str, counters: Counters, openai: AsyncOpenAI) -> None:
        self.backend = backend
        self.counters = counters
        self.openai = openai

    def api_runs(self, workflow_id: str, result: RunResult) -> int:
        """Runs created (responses: the responses that began a run or an attempt)."""
        if self.backend == "assistants":
            return self.counters.of_thread("runs_created", result.thread_id or "")
        return self.counters.of_thread("user_turns_by_workflow", workflow_id)

    def rounds_submitted(self, workflow_id: str) -> int:
        """Tool-output submissions accepted (responses: responses that carried outputs)."""
        if self.backend == "assistants":
            return self.counters.delta("tool_output_submissions", "accepted")
        started = self.counters.of_thread("user_turns_by_workflow", workflow_id)
        return self.counters.of_thread("responses_by_workflow", workflow_id) - started

    def all_rounds_submitted(self, workflow_ids: list[str]) -> int:
        """Tool-output submissions accepted for all these runs."""
        if self.backend == "assistants":
            return self.counters.delta("tool_output_submissions", "accepted")
        return sum(self.rounds_submitted(workflow_id) for workflow_id in workflow_ids)

    def conversation_runs(self, key: str, result: RunResult | str) -> int:
        """Runs the conversation `key` made (responses: responses that began one)."""
        if self.backend == "assistants":
            thread_id = result if isinstance(result, str) else result.thread_id
            return self.counters.of_thread("runs_created", thread_id or "")
        turns = self.counters.read().get("user_turns_by_workflow", {})
        return sum(
            n for workflow_id, n in turns.items() if workflow_id.startswith(f"thread-{key}/")
        )

    async def thread_exists(self, thread_id: str) -> bool:
        try:
            if self.backend == "assistants":
                await self.openai.beta.threads.retrieve(thread_id)
            else:
                await self.openai.responses.retrieve(thread_id)
        except openai_sdk.NotFoundError:
            return False
        return True

    async def delete_thread(self, thread_id: str) -> None:
        """As a cleanup would (on responses: the chain's last response is enough)."""
        if self.backend == "assistants":
            await self.openai.beta.threads.delete(thread_id)
        else:
            await self.openai.responses.delete(thread_id)

    def cancels_requested(self) -> int:
        name = "runs_cancel_requested" if self.backend == "assistants" else "responses_cancelled"
        return self.counters.delta(name)

    async def until_run_created(self, handle: WorkflowHandle[AssistantRun, RunResult]) -> None:
        """Wait until the API has the run (responses: the run's first response)."""
        if self.backend == "responses":
            await until_counted(self.counters, "responses_by_workflow", handle.id)
            return
        state = await until(handle, lambda s: s.thread_id is not None)
        await until_counted(self.counters, "runs_created", state.thread_id or "")

    async def api_status(self, result: RunResult) -> str:
        """The status of the result's run (response) at the API."""
        assert result.run_id is not None
        if self.backend == "responses":
            return str((await self.openai.responses.retrieve(result.run_id)).status)
        assert result.thread_id is not None
        retrieved = await self.openai.beta.threads.runs.retrieve(
            result.run_id, thread_id=result.thread_id
        )
        return retrieved.status

    async def conversation(self, result: RunResult | str) -> list[tuple[str, str]]:
        """(role, text) of the conversation up to a result (or a thread id), oldest first:
        the thread's messages, or the items along the chain of responses."""
        thread_id = result if isinstance(result, str) else result.thread_id
        assert thread_id is not None
        if self.backend == "assistants":
            listed = self.openai.beta.threads.messages.list(thread_id, order="asc")
            return [(m.role, m.content[0].text.value) async for m in listed]  # type: ignore[union-attr]
        turns: list[tuple[str, str]] = []
        head: str | None = thread_id
        while head is not None:
            response = await self.openai.responses.retrieve(head)
            said = [("assistant", _text(m)) for m in response.output if m.type == "message"]
            items = self.openai.responses.input_items.list(head, order="asc")
            asked = [(i.role, _text(i)) async for i in items if i.type == "message"]
            turns = asked + said + turns
            head = response.previous_response_id
        return turns


def _text(item: Any) -> str:
    """The text of a message item (input or output)."""
    content = item.content
    return str(content if isinstance(content, str) else content[0].text)


@pytest.fixture
def seen(backend: str, counters: Counters, openai: AsyncOpenAI) -> Seen:
    return Seen(backend, counters, openai)


def ask(assistant: Assistant, text: str, **fields: Any) -> RunRequest:
    target = {"assistant_id": assistant} if isinstance(assistant, str) else {"assistant": assistant}
    return RunRequest.model_validate({**target, "messages": [{"content": text}], **fields})


async def start(
    client: Client, task_queue: str, request: RunRequest
) -> WorkflowHandle[AssistantRun, RunResult]:
    return await client.start_workflow(
        AssistantRun.run, request, id=f"run-{uuid.uuid4()}", task_queue=task_queue
    )


async def run(client: Client, task_queue: str, request: RunRequest) -> RunResult:
    return await (await start(client, task_queue, request)).result()


async def ran(client: Client, task_queue: str, request: RunRequest) -> tuple[str, RunResult]:
    """A run's workflow id and its result."""
    handle = await start(client, task_queue, request)
    return handle.id, await handle.result()


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
        "OPENAI_BACKEND": settings.openai_backend,
        "TOOLS_MODULES": TOOLS_MODULES,
    }


async def run_cli(
    settings: Settings,
    *args: str,
    cwd: Path | None = None,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`durable-assistants ARGS...` as a user types it (`env` added to the test's
    environment), without blocking the event loop."""
    return await asyncio.to_thread(
        subprocess.run,
        [WORKER_CLI, *args],
        env={**cli_env(settings), **(env or {})},
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


from tests.integration.cleanup_fixtures import (  # noqa: E402, F401
    cleanup_settings,
    own_api,
    own_openai,
)
from tests.integration.gateway_fixtures import acme, gateway, globex  # noqa: E402, F401
