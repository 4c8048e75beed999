"""Durable runs side by side, in one process run on one machine, contenders alternating:

  A  the SDK's polling helpers: runs.create_and_poll + tools + submit_tool_outputs_and_poll
  B  the SDK's streaming helpers: runs.stream + submit_tool_outputs_stream (no durability)
  C  AssistantRun on the Temporal dev server with a worker
  D  Temporal's floor: a bare workflow with as many activities as C, each doing nothing

and, on the Responses API, A' B' C' (see benchmarks.responses_contenders).

    python -m benchmarks.runs_bench [--queued 0.1] [--in-progress 1.5] [--repeat 5] [--quick]
        [--only scale|footprint] [--concurrency 1 16 128] [--in-flight 1000 5000]

The emulator (its own process) plays the model with the given timings. Results go to
benchmarks/results/runs.{json,md} and runs_latency.png; ratios (C/A, C/B, C/D, C'/B')
matter more than absolute times on a noisy machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx2 as httpx
from openai import AsyncOpenAI
from openai.types.beta.threads import Run
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.worker import Worker

from activities.tools import CallContext, execute, registry
from benchmarks.emulator_bench import RESULTS, free_port, rss_mib, start_emulator
from benchmarks.floor import TemporalFloor, nothing
from benchmarks.history_costs import cost_table, history_costs
from benchmarks.responses_contenders import ResponsesBench
from benchmarks.responses_contenders import markdown as responses_markdown
from benchmarks.runs_scale import TEXT as SCALE_TEXT
from benchmarks.runs_scale import child_named, cpu_seconds, scale
from benchmarks.runs_scale import markdown as scale_markdown
from workers.settings import EXAMPLE_TOOLS, Settings, load_settings
from workers.temporal_server import local_test_environment
from workers.wiring import project_tools
from workers.worker import build_worker
from workflows.contracts import RunRequest, ToolCall
from workflows.run.workflow import AssistantRun

KEY = "sk-bench"
SCENARIOS = {
    "no tools": ("Say hello to Ada", 2),
    "1 tool round": ("What is the weather in Paris?", 5),
    "3 tool rounds": (
        "What is the weather in Paris, then calculate 2 * 21, "
        "then check the status of order A-1001",
        9,
    ),
}
"""Scenario: (message, activities AssistantRun runs for it), so D runs as many."""
Contender = Callable[[str], Awaitable[None]]
CHART_LABELS = {
    "A": "A: SDK polling helpers",
    "B": "B: SDK streaming helpers",
    "C": "C: AssistantRun (durable)",
    "A'": "A': responses.create, blocking",
    "B'": "B': background responses, streamed",
    "C'": "C': AssistantRun, responses backend",
}


async def run_tools(calls: list[Any]) -> list[dict[str, str]]:
    outputs = []
    for call in calls:
        registered = registry.get(call.function.name)
        assert registered is not None
        tool_call = ToolCall(id=call.id, name=call.function.name, arguments=call.function.arguments)
        result = await execute(registered, tool_call, CallContext(call.id, "bench", 1))
        outputs.append({"tool_call_id": call.id, "output": result.output})
    return outputs


class Bench:
    def __init__(self, openai: AsyncOpenAI, client: Client, assistant_id: str, admin: str):
        self.openai = openai
        self.client = client
        self.assistant_id = assistant_id
        self.admin = admin

    def contenders(self) -> dict[str, Contender]:
        return {"A": self.polling, "B": self.streaming, "C": self.durable}

    async def polling(self, text: str) -> None:
        runs = self.openai.beta.threads.runs
        thread = await self.openai.beta.threads.create(messages=[{"role": "user", "content": text}])
        run: Run = await runs.create_and_poll(thread_id=thread.id, assistant_id=self.assistant_id)
        while run.status == "requires_action" and run.required_action:
            outputs = await run_tools(run.required_action.submit_tool_outputs.tool_calls)
            run = await runs.submit_tool_outputs_and_poll(
                run_id=run.id,
                thread_id=thread.id,
                tool_outputs=outputs,  # type: ignore[arg-type]
            )
        [_ async for _ in self.openai.beta.threads.messages.list(thread.id, run_id=run.id)]
        assert run.status == "completed", run.status

    async def streaming(self, text: str) -> None:
        runs = self.openai.beta.threads.runs
        thread = await self.openai.beta.threads.create(messages=[{"role": "user", "content": text}])
        async with runs.stream(thread_id=thread.id, assistant_id=self.assistant_id) as stream:
            await stream.until_done()
            run = await stream.get_final_run()
        while run.status == "requires_action" and run.required_action:
            outputs = await run_tools(run.required_action.submit_tool_outputs.tool_calls)
            async with runs.submit_tool_outputs_stream(
                run_id=run.id,
                thread_id=thread.id,
                tool_outputs=outputs,  # type: ignore[arg-type]
            ) as stream:
                await stream.until_done()
                run = await stream.get_final_run()
        assert run.status == "completed", run.status

    async def durable(self, text: str) -> None:
        result = await self.client.execute_workflow(
            AssistantRun.run, self.request(text), id=f"bench-{uuid.uuid4()}", task_queue="bench-c"
        )
        assert result.status == "completed", result.status

    def request(self, text: str) -> RunRequest:
        return assistants_request(self.assistant_id, text)

    async def floor(self, activities: int) -> None:
        await self.client.execute_workflow(
            TemporalFloor.run, activities, id=f"floor-{uuid.uuid4()}", task_queue="bench-d"
        )

    def counts(self) -> dict[str, int]:
        return counts(self.admin)


def assistants_request(assistant_id: str, text: str) -> RunRequest:
    """C's input: explicitly on the Assistants API (the worker's default is responses)."""
    return RunRequest.model_validate(
        {"backend": "assistants", "assistant_id": assistant_id, "messages": [{"content": text}]}
    )


def counts(admin: str) -> dict[str, int]:
    """API requests, runs and responses the emulator was asked for so far."""
    counters = httpx.get(f"{admin}/counters").json()
    return {
        "requests": sum(counters.get("requests", {}).values()),
        "runs": counters.get("runs_created", {}).get("total", 0),
        "responses": counters.get("responses_created", {}).get("total", 0),
    }


async def counted(bench: Bench, call: Awaitable[None]) -> tuple[float, dict[str, int]]:
    """Seconds `call` took, and what it asked of the emulator."""
    before = bench.counts()
    seconds = await timed(call)
    after = bench.counts()
    return seconds, {name: after[name] - before[name] for name in after}


async def timed(call: Awaitable[None]) -> float:
    started = time.perf_counter()
    await call
    return time.perf_counter() - started


def stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50": statistics.median(ordered), "p95": p95, "n": len(ordered)}


async def latency(bench: Bench, repeat: int) -> dict[str, Any]:
    """A, B, C and D side by side."""

    def contenders(activities: int) -> dict[str, Contender]:
        async def floor(_text: str) -> None:
            await bench.floor(activities)

        return {**bench.contenders(), "D": floor}

    return await side_by_side(bench, contenders, repeat)


async def side_by_side(
    bench: Bench, contenders_of: Callable[[int], dict[str, Contender]], repeat: int
) -> dict[str, Any]:
    """p50/p95 per scenario and contender (given the activities C runs for the scenario), and
    API requests, runs and responses per run; contenders take turns going first."""
    results: dict[str, Any] = {}
    for scenario, (text, activities) in SCENARIOS.items():
        contenders = contenders_of(activities)
        names = list(contenders)
        samples: dict[str, list[float]] = {name: [] for name in names}
        asked: dict[str, list[dict[str, int]]] = {name: [] for name in names}
        for iteration in range(repeat):
            shift = iteration % len(names)
            for name in names[shift:] + names[:shift]:
                seconds, what = await counted(bench, contenders[name](text))
                samples[name].append(seconds)
                asked[name].append(what)
        results[scenario] = {
            name: {**stats(samples[name]), **medians(asked[name])} for name in names
        }
    return results


def medians(runs: list[dict[str, int]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


async def by_duration(
    bench: Bench, durations: list[float], contenders: dict[str, Contender]
) -> dict[str, Any]:
    """Latency and API requests of one tool round as the model gets slower."""
    results: dict[str, Any] = {}
    for seconds in durations:
        text = f"What is the weather in Oslo? [[emulator in_progress={seconds}]]"
        row = {}
        for name, contender in contenders.items():
            took, what = await counted(bench, contender(text))
            row[name] = {"seconds": took, **what}
        results[str(seconds)] = row
    return results


async def costs(client: Client, request_of: Callable[[str], RunRequest]) -> dict[str, Any]:
    scenarios = [(scenario, text) for scenario, (text, _) in SCENARIOS.items()]
    return await history_costs(client, request_of, scenarios, "bench-c")


async def responses_side(
    bench: Bench, responses: ResponsesBench, args: argparse.Namespace
) -> dict[str, Any]:
    """A', B' and C' on the Responses API: latency, requests as model time grows, C' history."""
    return {
        "latency": await side_by_side(bench, lambda _: responses.contenders(), args.repeat),
        "by_duration": await by_duration(bench, args.durations, responses.contenders()),
        "history": await costs(bench.client, responses.request),
    }


def spawn_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    cli = Path(sys.executable).parent / "durable-assistants"
    return subprocess.Popen([str(cli), "worker"], env=env, stderr=subprocess.DEVNULL)


async def worker_footprint(
    client: Client,
    env: dict[str, str],
    assistant_id: str,
    admin: str,
    emulator_pid: int,
    levels: list[int],
    ramp_limit: float,
    heartbeat_throttle: float,
) -> dict[str, Any]:
    """RSS and CPU of a worker process (`durable-assistants worker`) idle, then holding each
    of `levels` long runs in flight (runs added to reach the next level), with the dev
    server's and the emulator's CPU over the same seconds. A level not reached within
    `ramp_limit` seconds is measured with what is in flight by then. Each waiting run
    heartbeats every `heartbeat_throttle` seconds (`HEARTBEAT_THROTTLE_SECONDS`)."""
    most = max(levels)
    env = {**env, "MAX_CONCURRENT_ACTIVITIES": str(most + 100)}
    env["OPENAI_MAX_CONNECTIONS"] = str(most + 100)
    env["HEARTBEAT_THROTTLE_SECONDS"] = str(heartbeat_throttle)
    worker = spawn_worker(env)
    pids = {"worker": worker.pid, "emulator": emulator_pid}
    if (server := child_named("temporal")) is not None:
        pids["dev server"] = server
    try:
        await asyncio.sleep(3)
        rows = [{"in_flight": 0, "ramp_seconds": 0.0, **await _held(pids, worker.pid)}]
        already = _runs_created(admin)
        request = assistants_request(assistant_id, "Say hello [[emulator in_progress=600]]")
        limit = asyncio.Semaphore(64)

        async def start() -> None:
            async with limit:
                await client.start_workflow(
                    AssistantRun.run,
                    request,
                    id=f"rss-{uuid.uuid4()}",
                    task_queue=env["TEMPORAL_TASK_QUEUE"],
                )

        started = 0
        for level in levels:
            began = time.perf_counter()
            await asyncio.gather(*(start() for _ in range(level - started)))
            started = level
            while time.perf_counter() - began < ramp_limit:
                if _runs_created(admin) - already >= level:
                    break
                await asyncio.sleep(1)
            ramp = time.perf_counter() - began
            held = await _held(pids, worker.pid)
            rows.append({"in_flight": _runs_created(admin) - already, "ramp_seconds": ramp, **held})
        return {"levels": rows, "heartbeat_throttle_seconds": heartbeat_throttle}
    finally:
        worker.kill()
        worker.wait()


async def _held(pids: dict[str, int], worker: int, seconds: int = 10) -> dict[str, Any]:
    """The worker's peak RSS and the CPU cores of each of `pids` over `seconds`."""
    before, wall = {k: cpu_seconds(p) for k, p in pids.items()}, time.perf_counter()
    peak = 0.0
    for _ in range(seconds):
        peak = max(peak, rss_mib(worker))
        await asyncio.sleep(1)
    took = time.perf_counter() - wall
    cores = {k: (cpu_seconds(p) - before[k]) / took for k, p in pids.items()}
    return {"rss_mib": peak, "cpu_cores": cores}


def _runs_created(admin: str) -> int:
    return counts(admin)["runs"]


def bench_settings(base_url: str, address: str, queue: str) -> Settings:
    return load_settings(
        temporal_address=address,
        temporal_task_queue=queue,
        openai_base_url=base_url,
        openai_api_key=SecretStr(KEY),
        tools_modules=EXAMPLE_TOOLS,
        log_level="WARNING",
    )


async def main(args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    emulator = start_emulator(port, args.in_progress, queued=args.queued)
    base, admin = f"http://127.0.0.1:{port}/v1", f"http://127.0.0.1:{port}/_emulator"
    env = await local_test_environment()
    address = env.client.service_client.config.target_host
    try:
        settings = bench_settings(base, address, "bench-c")
        tools = project_tools(settings).definitions("assistants")
        async with AsyncOpenAI(base_url=base, api_key=KEY, max_retries=0) as openai:
            assistant = await openai.beta.assistants.create(model="gpt-4o", tools=tools)  # type: ignore[arg-type]
            bench = Bench(openai, env.client, assistant.id, admin)
            responses = ResponsesBench(openai, env.client, "bench-c")
            floor = Worker(
                env.client, task_queue="bench-d", workflows=[TemporalFloor], activities=[nothing]
            )
            async with build_worker(env.client, settings), floor:
                results: dict[str, Any]
                if args.only:
                    earlier = RESULTS / f"runs{args.suffix}.json"
                    earlier = earlier if earlier.exists() else RESULTS / "runs.json"
                    results = json.loads(earlier.read_text())
                    if args.only == "history":
                        results["history"] = await costs(env.client, bench.request)
                        results["responses"]["history"] = await costs(env.client, responses.request)
                        return results
                else:
                    results = {
                        "timings": {"queued": args.queued, "in_progress": args.in_progress},
                        "latency": await latency(bench, args.repeat),
                        "by_duration": await by_duration(bench, args.durations, bench.contenders()),
                        "history": await costs(env.client, bench.request),
                        "responses": await responses_side(bench, responses, args),
                    }
        worker_env = {
            "PATH": os.environ["PATH"],
            "TEMPORAL_ADDRESS": address,
            "TEMPORAL_TASK_QUEUE": "bench-rss",
            "OPENAI_BASE_URL": base,
            "OPENAI_API_KEY": KEY,
            "LOG_LEVEL": "WARNING",
            "TOOLS_MODULES": EXAMPLE_TOOLS,
        }
        if args.only != "footprint":
            requests = {"C": bench.request(SCALE_TEXT), "C'": responses.request(SCALE_TEXT)}
            scaled = await scale(env.client, worker_env, requests, emulator.pid, args)
            results.update(scaled)
        results["footprint"] = await worker_footprint(
            env.client,
            worker_env,
            assistant.id,
            admin,
            emulator.pid,
            args.in_flight,
            args.ramp_limit,
            args.heartbeat_throttle,
        )
        return results
    finally:
        emulator.kill()
        await env.shutdown()


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "| scenario | A polling p50 | B streaming p50 | C durable p50 / p95 | D floor p50 "
        "| C/A | C/B | C/D | requests A / B / C |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for scenario, row in results["latency"].items():
        a, b, c, d = (row[k] for k in "ABCD")
        lines.append(
            f"| {scenario} | {a['p50']:.2f} s | {b['p50']:.2f} s | {c['p50']:.2f} / "
            f"{c['p95']:.2f} s | {d['p50']:.3f} s | {c['p50'] / a['p50']:.2f} | "
            f"{c['p50'] / b['p50']:.2f} | {c['p50'] / d['p50']:.1f} | "
            f"{a['requests']:g} / {b['requests']:g} / {c['requests']:g} |"
        )
    lines += [
        "",
        "| model time per phase | requests A / B / C | latency A / B / C |",
        "|---|---|---|",
    ]
    for seconds, row in results["by_duration"].items():
        lines.append(
            f"| {seconds} s | {row['A']['requests']} / {row['B']['requests']} / "
            f"{row['C']['requests']} | {row['A']['seconds']:.2f} / "
            f"{row['B']['seconds']:.2f} / {row['C']['seconds']:.2f} s |"
        )
    lines += ["", *cost_table("C", results["history"])]
    lines += ["", *scale_markdown(results)]
    if "responses" in results:
        lines += ["", *responses_markdown(results["responses"])]
    return "\n".join(lines) + "\n"


def chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    responses = results.get("responses", {}).get("by_duration", {})
    rows = {s: {**row, **responses.get(s, {})} for s, row in results["by_duration"].items()}
    figure, axis = plt.subplots(figsize=(6, 4))
    for name, label in CHART_LABELS.items():
        if all(name in row for row in rows.values()):
            axis.plot(
                [float(s) for s in rows],
                [row[name]["seconds"] for row in rows.values()],
                marker="o",
                linestyle="--" if name.endswith("'") else "-",
                label=label,
            )
    axis.set_xlabel("model time per phase (s)")
    axis.set_ylabel("end-to-end latency, one tool round (s)")
    axis.legend(fontsize="small")
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queued", type=float, default=0.1)
    parser.add_argument("--in-progress", type=float, default=1.5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--durations", type=float, nargs="+", default=[0.5, 1.5, 4.0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 128])
    parser.add_argument("--runs", type=int, default=32, help="runs per throughput level")
    parser.add_argument(
        "--rounds", type=int, default=2, help="turns of C, C' and D at the highest concurrency"
    )
    parser.add_argument(
        "--profile",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="sample the worker with py-spy at the highest concurrency",
    )
    parser.add_argument(
        "--compare-sandbox",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run C on a worker with the SDK's default sandbox, side by side",
    )
    parser.add_argument("--in-flight", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument(
        "--ramp-limit",
        type=float,
        default=480,
        help="seconds to reach each in-flight level (5,000 took 295-402 s on 2 cores)",
    )
    parser.add_argument(
        "--heartbeat-throttle",
        type=float,
        default=10,
        help="HEARTBEAT_THROTTLE_SECONDS of the footprint's worker: at 2 s (the default) "
        "5,000 waiting runs send 2,500 heartbeats a second, more than a dev server on 2 cores "
        "takes while it starts runs",
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run with small numbers")
    parser.add_argument(
        "--only",
        choices=["scale", "footprint", "history"],
        help="re-measure only throughput, profile and footprint (scale), the footprint, or "
        "the history costs, keeping the rest of runs.json",
    )
    parser.add_argument("--suffix", default="", help="results go to runs{suffix}.*")
    args = parser.parse_args()
    if args.quick:
        args.in_progress, args.repeat, args.durations = 0.3, 2, [0.2, 0.6]
        args.concurrency, args.runs, args.in_flight = [1, 8], 8, [20, 50]
        args.rounds, args.suffix = 1, args.suffix or "-quick"
    return args


if __name__ == "__main__":
    arguments = parse()
    outcome = asyncio.run(main(arguments))
    RESULTS.mkdir(exist_ok=True)
    suffix = arguments.suffix
    (RESULTS / f"runs{suffix}.json").write_text(json.dumps(outcome, indent=2))
    (RESULTS / f"runs{suffix}.md").write_text(markdown(outcome))
    chart(outcome, RESULTS / f"runs_latency{suffix}.png")
    print(markdown(outcome))
    sys.stdout.flush()
    os._exit(0)
