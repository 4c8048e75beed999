"""The chaos suite (`make chaos`): durable runs under killed workers, a restarted Temporal
server and API fault storms. Prints a summary table and keeps it in tests/chaos/results.md.

    python -m tests.chaos.run [--runs 100] [--chaos-seconds 60]

Scenarios:
  kill    runs with two tool rounds each, in flight across two worker processes; a random
          worker is killed with SIGKILL every few seconds and restarted; the dev server is
          restarted once (its SQLite file kept)
  faults  the same load through 30% 429 (retry-after), 10% 500 and 5% dropped bodies/streams
  cancels cancels and deadlines landing during retried attempts and tool rounds while workers
          are killed (see tests/chaos/cancels.py)
  tenants two tenants' conversations through `serve`, some adopting threads, each trying the
          other's, cleanup at age 0 every few seconds, workers and the gateway killed (see
          tests/chaos/tenants.py)
Checked from the emulator's counters: one run and one user message per thread, and exactly
one accepted tool-output submission per tool round. Tool executions beyond one per call
are counted (at-least-once is allowed: tools get an idempotency key).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
from openai import AsyncOpenAI
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError

from benchmarks.emulator_bench import free_port
from tests.chaos import cancels, chains, tenants
from workers.settings import load_settings
from workers.temporal_server import start_dev_server, stop_process, wait_until_serving
from workers.wiring import project_tools
from workflows.contracts import RunRequest, RunResult
from workflows.run.workflow import AssistantRun

Assistant = str | dict[str, Any]
"""An assistant's id (assistants backend) or the spec of one (responses)."""
KEY = "sk-chaos"
CLI = str(Path(sys.executable).parent / "durable-assistants")
RESULTS = Path(__file__).with_name("results.md")
TOOLS = "activities.example_tools,tests.chaos.tools"
ROUNDS = 2
STORM = [
    "status=429 rate=0.3 retry_after=0.5",
    "status=500 rate=0.1",
    "drop=body rate=0.05",
    "drop=stream rate=0.05",
]


@dataclass
class Outcome:
    scenario: str
    backend: str
    runs: int
    ended_as: dict[str, int]
    duplicates: int
    lost: int
    extra_tool_executions: int
    slowest_run_seconds: float
    wall_seconds: float
    unexpected: int = 0
    disagreeing: int = 0
    left_active: int = 0
    orphaned_responses: int = 0

    @property
    def ok(self) -> bool:
        clean = self.duplicates == self.lost == self.left_active == self.disagreeing == 0
        if self.scenario == "cancels":
            return clean and self.unexpected == 0
        return clean and self.ended_as.get("completed", 0) == self.runs


class Stack:
    """A dev server, an emulator and worker processes, each restartable."""

    def __init__(self, folder: Path, faults: list[str], backend: str) -> None:
        self.folder = folder
        self.faults = faults
        self.backend = backend
        self.port, self.emulator_port = free_port(), free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.base_url = f"http://127.0.0.1:{self.emulator_port}/v1"
        self.server: asyncio.subprocess.Process | None = None
        self.emulator: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self.visits = folder / "visits.log"

    async def start(self) -> tuple[Client, Assistant]:
        """Server, emulator and two workers; a client and an assistant with the tools."""
        await self.start_server()
        self.start_emulator()
        assistant = await assistant_for(self)
        self.workers = [self.spawn_worker(), self.spawn_worker()]
        return await connect(self.address), assistant

    async def start_server(self) -> None:
        db = self.folder / "temporal.sqlite"
        self.server = await start_dev_server(
            ip="127.0.0.1", port=self.port, ui_port=free_port(), db_file=db
        )
        await wait_until_serving(self.server, self.address, self.folder / "temporal.log")

    async def restart_server(self) -> None:
        assert self.server is not None
        await stop_process(self.server)
        await self.start_server()

    def start_emulator(self) -> None:
        faults = [arg for rule in self.faults for arg in ("--fault", rule)]
        self.emulator = subprocess.Popen(
            [
                CLI,
                "emulator",
                "--port",
                str(self.emulator_port),
                "--queued",
                "0.2",
                "--in-progress",
                "1.0",
                *faults,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(200):
            try:
                httpx.get(f"{self.admin}/health").raise_for_status()
                return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("the emulator did not start")

    @property
    def admin(self) -> str:
        return f"http://127.0.0.1:{self.emulator_port}/_emulator"

    def spawn_worker(self) -> subprocess.Popen[bytes]:
        env = {
            "PATH": os.environ["PATH"],
            "PYTHONPATH": str(Path.cwd()),
            "TEMPORAL_ADDRESS": self.address,
            "OPENAI_BASE_URL": self.base_url,
            "OPENAI_API_KEY": KEY,
            "OPENAI_BACKEND": self.backend,
            "TOOLS_MODULES": TOOLS,
            "LOG_LEVEL": "ERROR",
            "HEARTBEAT_THROTTLE_SECONDS": "1",
            "CHAOS_VISITS_FILE": str(self.visits),
        }
        return subprocess.Popen([CLI, "worker"], env=env, stderr=subprocess.DEVNULL)

    def counters(self) -> dict[str, dict[str, int]]:
        snapshot: dict[str, dict[str, int]] = httpx.get(f"{self.admin}/counters").json()
        return snapshot

    async def stop(self) -> None:
        for process in [*self.workers, self.emulator]:
            if process is not None:
                process.kill()
                process.wait()
        if self.server is not None:
            await stop_process(self.server)


async def assistant_for(stack: Stack) -> Assistant:
    """An assistant with the tools (assistants backend), or the spec of one (responses)."""
    settings = load_settings(tools_modules=TOOLS)
    if stack.backend == "responses":
        names = [registered.spec.name for registered in project_tools(settings)]
        return {"name": "chaos", "model": "gpt-4o", "tools": names}
    tools = project_tools(settings).definitions("assistants")
    async with AsyncOpenAI(base_url=stack.base_url, api_key=KEY, max_retries=20) as openai:
        created = await openai.beta.assistants.create(model="gpt-4o", tools=tools)  # type: ignore[arg-type]
    return created.id


@dataclass
class Ran:
    workflow_id: str
    result: RunResult | None
    seconds: float


async def timed_run(client: Client, request: RunRequest) -> Ran:
    """Start a run and wait for its result, riding out the server restart (client calls
    that fail meanwhile are repeated; the workflow id makes the start idempotent)."""
    started = time.perf_counter()
    workflow_id = f"chaos-{uuid.uuid4()}"
    try:
        handle = await start_through_outages(client, request, workflow_id)
        result: RunResult = await _through_outages(handle.result)
    except WorkflowFailureError:
        return Ran(workflow_id, None, time.perf_counter() - started)
    return Ran(workflow_id, result, time.perf_counter() - started)


async def start_through_outages(client: Client, request: RunRequest, workflow_id: str) -> Any:
    """Start a run; a start repeated after an outage finds the first (same workflow id)."""

    async def start() -> Any:
        return await client.start_workflow(
            AssistantRun.run,
            request,
            id=workflow_id,
            task_queue="durable-assistants",
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )

    return await _through_outages(start)


async def _through_outages(call: Callable[[], Awaitable[Any]], seconds: float = 180) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        try:
            return await call()
        except (RPCError, RuntimeError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(1)


async def connect(address: str) -> Client:
    for _ in range(100):
        try:
            return await Client.connect(address, data_converter=pydantic_data_converter)
        except RuntimeError:
            await asyncio.sleep(0.2)
    raise RuntimeError(f"cannot reach {address}")


async def chaos(stack: Stack, seconds: float, restart_server: bool) -> None:
    """Kill a random worker every few seconds and restart it; restart the server once."""
    deadline = time.monotonic() + seconds
    server_restarted = not restart_server
    while time.monotonic() < deadline:
        await asyncio.sleep(random.uniform(3, 6))
        victim = random.randrange(len(stack.workers))
        stack.workers[victim].send_signal(signal.SIGKILL)
        stack.workers[victim].wait()
        await asyncio.sleep(1)
        stack.workers[victim] = stack.spawn_worker()
        if not server_restarted and time.monotonic() > deadline - seconds / 2:
            await stack.restart_server()
            server_restarted = True


async def scenario(
    name: str, backend: str, runs: int, chaos_seconds: float, faults: list[str]
) -> Outcome:
    with tempfile.TemporaryDirectory() as folder:
        stack = Stack(Path(folder), faults, backend)
        try:
            client, assistant = await stack.start()
            started = time.perf_counter()
            jobs = [timed_run(client, _question(assistant, n)) for n in range(runs)]
            disorder = chaos(stack, chaos_seconds, restart_server=name == "kill")
            ran = (await asyncio.gather(asyncio.gather(*jobs), disorder))[0]
            wall = time.perf_counter() - started
            return await _outcome(name, stack, ran, wall)
        finally:
            await stack.stop()


def _question(assistant: Assistant, n: int) -> RunRequest:
    text = f'call record_visit with {{"city": "City{n}"}} then calculate {n} * 2'
    target = {"assistant_id": assistant} if isinstance(assistant, str) else {"assistant": assistant}
    return RunRequest.model_validate(
        {
            **target,
            "messages": [{"content": text}],
            "timeouts": {
                "heartbeat_seconds": 2,
                "api_initial_retry_seconds": 0.2,
                "api_max_attempts": 50,
            },
        }
    )


async def _outcome(name: str, stack: Stack, ran: list[Ran], wall: float) -> Outcome:
    counters = stack.counters()
    finished = [(r.workflow_id, r.result) for r in ran if r.result is not None]
    completed = [r for _, r in finished if r.status == "completed" and len(r.tool_calls) == ROUNDS]
    if stack.backend == "responses":
        duplicates, orphaned = await _chain_checks(stack, counters, finished)
    else:
        duplicates, orphaned = _thread_checks(counters, [r for _, r in finished]), 0
    visits = stack.visits.read_text().splitlines() if stack.visits.exists() else []
    return Outcome(
        scenario=name,
        backend=stack.backend,
        runs=len(ran),
        ended_as={"completed": len(completed)},
        duplicates=duplicates,
        lost=len(ran) - len(finished),
        extra_tool_executions=len(visits) - len(set(visits)),
        slowest_run_seconds=max(r.seconds for r in ran),
        wall_seconds=wall,
        orphaned_responses=orphaned,
    )


def _thread_checks(counters: dict[str, dict[str, int]], finished: list[RunResult]) -> int:
    """One run and one user message per thread, one accepted submission per round."""
    duplicates = sum(
        counters.get(counter, {}).get(r.thread_id or "", 0) > 1
        for r in finished
        for counter in ("runs_created", "messages_created")
    )
    accepted = counters.get("tool_output_submissions", {}).get("accepted", 0)
    return duplicates + max(0, accepted - ROUNDS * len(finished))


async def _chain_checks(
    stack: Stack, counters: dict[str, dict[str, int]], finished: list[tuple[str, RunResult]]
) -> tuple[int, int]:
    """Repeated user messages or tool outputs along each run's chain, and orphans."""
    duplicates = orphaned = 0
    async with AsyncOpenAI(base_url=stack.base_url, api_key=KEY, max_retries=20) as openai:
        for workflow_id, result in finished:
            chain = await chains.chain_of(openai, result)
            duplicates += chain.repeated
            orphaned += chains.orphans(counters, workflow_id, result, chain)
    return duplicates, orphaned


def table(outcomes: list[Outcome]) -> str:
    lines = [
        "| scenario | backend | runs | ended as | duplicates | lost | API runs left active "
        "| disagreeing with the API | orphaned responses | extra tool executions "
        "| slowest run | wall |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        ended = ", ".join(f"{n} {status}" for status, n in sorted(o.ended_as.items()))
        lines.append(
            f"| {o.scenario} | {o.backend} | {o.runs} | {ended} | {o.duplicates} | {o.lost} | "
            f"{o.left_active} | {o.disagreeing} | {o.orphaned_responses} | "
            f"{o.extra_tool_executions} | {o.slowest_run_seconds:.1f} s | {o.wall_seconds:.1f} s |"
        )
    return "\n".join(lines) + "\n"


async def cancels_scenario(backend: str, runs: int, chaos_seconds: float) -> Outcome:
    with tempfile.TemporaryDirectory() as folder:
        stack = Stack(Path(folder), [], backend)
        try:
            client, assistant = await stack.start()
            started = time.perf_counter()
            requests = [cancels.request_for(assistant, n) for n in range(runs)]
            jobs = [cancels.run_and_disturb(client, kind, r) for kind, r in requests]
            disorder = chaos(stack, chaos_seconds, restart_server=False)
            ended = (await asyncio.gather(asyncio.gather(*jobs), disorder))[0]
            wall = time.perf_counter() - started
            await asyncio.sleep(1)  # runs still `cancelling` at the API settle
            verdict = await cancels.judge(backend, ended, stack.counters(), stack.base_url, KEY)
            visits = stack.visits.read_text().splitlines() if stack.visits.exists() else []
            return Outcome(
                scenario="cancels",
                backend=backend,
                runs=runs,
                ended_as=verdict.by_status,
                duplicates=verdict.duplicates,
                lost=sum(e.result is None for e in ended),
                extra_tool_executions=len(visits) - len(set(visits)),
                slowest_run_seconds=max(e.seconds for e in ended),
                wall_seconds=wall,
                unexpected=verdict.unexpected,
                disagreeing=verdict.disagreeing,
                left_active=verdict.left_active,
            )
        finally:
            await stack.stop()


async def tenants_scenario(backend: str, runs: int, chaos_seconds: float) -> tenants.Tally:
    """Per tenant `runs` / 10 conversations of five messages (tests/chaos/tenants.py)."""
    with tempfile.TemporaryDirectory() as folder:
        stack = Stack(Path(folder), [], backend)
        gateway = tenants.Gateway(CLI, tenants.gateway_env(stack.address, stack.base_url, KEY))
        try:
            client, _ = await stack.start()
            gateway.start()
            tally = tenants.Tally()
            threads: dict[str, list[str]] = {tenant: [] for tenant in tenants.TENANTS}
            per_tenant = max(runs // 10, 2)
            jobs = [
                tenants.conversation(gateway, tenant, n, 5, tally, threads[tenant])
                for tenant in tenants.TENANTS
                for n in range(per_tenant)
            ]
            started = time.perf_counter()
            await asyncio.gather(
                asyncio.gather(*jobs),
                chaos(stack, chaos_seconds, restart_server=False),
                tenants.cleanups(client, tally, chaos_seconds, "durable-assistants"),
                tenants.hostile(gateway, tally, threads, chaos_seconds),
                _kill_once(gateway, chaos_seconds / 2),
            )
            tally.wall = time.perf_counter() - started
            async with AsyncOpenAI(base_url=stack.base_url, api_key=KEY, max_retries=20) as openai:
                await tenants.verify(client, openai, backend, tally)
            return tally
        finally:
            gateway.kill()
            await stack.stop()


async def _kill_once(gateway: tenants.Gateway, after: float) -> None:
    await asyncio.sleep(after)
    gateway.kill()
    await asyncio.sleep(1)
    await asyncio.to_thread(gateway.start)


async def main(args: argparse.Namespace) -> tuple[list[Outcome], list[tuple[str, tenants.Tally]]]:
    outcomes, tallies = [], []
    for backend in args.backends:
        if "kill" in args.scenarios:
            outcomes.append(await scenario("kill", backend, args.runs, args.chaos_seconds, []))
        if "faults" in args.scenarios:
            outcomes.append(await scenario("faults", backend, args.runs, 0, faults=STORM))
        if "cancels" in args.scenarios:
            outcomes.append(await cancels_scenario(backend, args.runs, args.chaos_seconds))
        if "tenants" in args.scenarios:
            tallies.append(
                (backend, await tenants_scenario(backend, args.runs, args.chaos_seconds))
            )
    return outcomes, tallies


SCENARIOS = ("kill", "faults", "cancels", "tenants")

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--chaos-seconds", type=float, default=60)
    parser.add_argument("--backends", nargs="+", default=["assistants", "responses"])
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=SCENARIOS)
    outcomes, tallies = asyncio.run(main(parser.parse_args()))
    report = table(outcomes) if outcomes else ""
    if tallies:
        rows = [tenants.table(backend, tally, tally.wall) for backend, tally in tallies]
        report += "\n" + tenants.HEADER + "\n".join(rows) + "\n"
    RESULTS.write_text(report)
    print(report)
    sys.stdout.flush()
    ok = all(o.ok for o in outcomes) and all(tenants.ok(t) for _, t in tallies)
    os._exit(0 if ok else 1)
