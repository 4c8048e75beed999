"""Throughput at scale for `benchmarks.runs_bench`, and where the time goes.

The same workload (a plain run, 0.05 s queued and 0.2 s of model time) on both backends, C on
the Assistants API and C' on the Responses API, against D, Temporal's floor (a bare workflow
with as many no-op activities), each served by a worker process of its own (C and C' by
`durable-assistants worker`, D by `python -m benchmarks.floor`) with its Prometheus metrics on,
so the bench process only plays the callers. Per contender: runs per second, the CPU seconds
per run of the worker, the dev server and the emulator, workflow tasks per run (counted in
histories), sticky cache hits and misses and workflow task latencies from the worker's metrics.
`profile` then samples the worker with py-spy while it serves C and C' and sums the self time
of the functions by area (see `AREAS`).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx2 as httpx
from temporalio.client import Client

from benchmarks.emulator_bench import free_port, rss_mib
from benchmarks.floor import TemporalFloor
from workflows.contracts import RunRequest
from workflows.run.workflow import AssistantRun

TEXT = "Say hello [[emulator queued=0.05 in_progress=0.2]]"
FLOOR_ACTIVITIES = 2
"""A plain run's activities (start the run, read its messages), so D runs as many."""
METRICS = {
    "sticky_hits": "temporal_sticky_cache_hit",
    "sticky_misses": "temporal_sticky_cache_miss",
    "wft_seconds": "temporal_workflow_task_execution_latency_sum",
    "wfts": "temporal_workflow_task_execution_latency_count",
    "wft_schedule_to_start_seconds": "temporal_workflow_task_schedule_to_start_latency_sum",
    "wft_schedule_to_start": "temporal_workflow_task_schedule_to_start_latency_count",
    "wft_replay_seconds": "temporal_workflow_task_replay_latency_sum",
    "activity_seconds": "temporal_activity_execution_latency_sum",
}
"""What the benchmark reads of a worker's Prometheus scrape (summed over labels)."""
AREAS = (
    (
        "workflow sandbox (with imports and class creation in it)",
        (
            "temporalio/worker/workflow_sandbox/",
            "<frozen importlib",
            "<frozen abc>",
            "<string>",
            "/typing.py",
            "typing_inspection",
            "/inspect.py",
            "/dataclasses.py",
            "/tokenize.py",
        ),
    ),
    ("thread pool of workflow activations", ("concurrent/futures/", "/threading.py")),
    ("SDK workflow instance", ("temporalio/worker/_workflow", "temporalio/workflow.py")),
    ("SDK core bridge", ("temporalio/bridge/", "temporalio/worker/_activity", "temporalio/client")),
    (
        "pydantic (de)serialisation",
        ("pydantic", "temporalio/contrib/pydantic", "temporalio/converter", "json/"),
    ),
    ("protobuf", ("google/protobuf",)),
    ("our workflow code", ("/workflows/",)),
    ("our activities", ("/activities/",)),
    (
        "httpx/openai in activities",
        ("/openai/", "/httpx", "/httpcore", "/h11/", "/anyio/", "/ssl.py", "/socket.py"),
    ),
    ("asyncio event loop", ("asyncio/", "selectors.py")),
    ("logging, tracing, metrics", ("structlog", "logging/", "opentelemetry", "/workers/")),
)
"""Areas of the worker's Python CPU, by the first path fragment that a function's file has."""
INCLUSIVE = {
    "creating a run's sandboxed workflow instance": "SandboxedWorkflowRunner.create_instance",
    "workflow activations": "_WorkflowWorker._handle_activation",
    "activity tasks": "_ActivityWorker._handle_start_activity_task",
    "OpenAI requests": "AsyncAPIClient.request",
}
"""Shares of the samples whose stack holds the function (its callees included)."""
BASELINE = "C (SDK sandbox)"
"""C on a worker with the SDK's default sandbox (`benchmarks.default_sandbox_worker`)."""


class Process:
    """A worker process of the benchmark, with its metrics endpoint."""

    def __init__(self, command: list[str], env: dict[str, str], queue: str) -> None:
        self.queue = queue
        self.metrics_port = free_port()
        env = {**env, "TEMPORAL_TASK_QUEUE": queue, "METRICS_PORT": str(self.metrics_port)}
        self.popen = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)

    @classmethod
    def project(cls, env: dict[str, str], queue: str) -> Process:
        cli = Path(sys.executable).parent / "durable-assistants"
        return cls([str(cli), "worker"], env, queue)

    @classmethod
    def default_sandbox(cls, env: dict[str, str], queue: str) -> Process:
        return cls([sys.executable, "-m", "benchmarks.default_sandbox_worker"], env, queue)

    @classmethod
    def floor(cls, env: dict[str, str], queue: str) -> Process:
        return cls([sys.executable, "-m", "benchmarks.floor"], env, queue)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def scrape(self) -> dict[str, float]:
        text = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics").text
        totals: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                key = name.split("{", 1)[0]
                totals[key] = totals.get(key, 0.0) + float(value)
        return {key: totals.get(name, 0.0) for key, name in METRICS.items()}

    async def ready(self) -> None:
        for _ in range(300):
            try:
                self.scrape()
                return
            except httpx.HTTPError:
                await asyncio.sleep(0.1)
        raise RuntimeError(f"worker {self.queue} did not start")

    def stop(self) -> None:
        self.popen.kill()
        self.popen.wait()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_named(fragment: str) -> int | None:
    """The pid of a child of this process whose command name contains `fragment` (the dev
    server, which the SDK starts)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        if fragment in name and int(text.rsplit(")", 1)[1].split()[1]) == os.getpid():
            return int(stat.parent.name)
    return None


class Contenders:
    """C, C' and D started on their workers' queues: `requests` holds C's and C''s input."""

    def __init__(self, client: Client, requests: dict[str, RunRequest]) -> None:
        self.client = client
        self.requests = requests

    async def one(self, name: str, queue: str, ids: list[str]) -> None:
        workflow_id = f"scale-{uuid.uuid4()}"
        ids.append(workflow_id)
        if name == "D":
            await self.client.execute_workflow(
                TemporalFloor.run, FLOOR_ACTIVITIES, id=workflow_id, task_queue=queue
            )
            return
        request = self.requests[name.removesuffix(" (SDK sandbox)")]
        result = await self.client.execute_workflow(
            AssistantRun.run, request, id=workflow_id, task_queue=queue
        )
        assert result.status == "completed", result.status


async def at_concurrency(make: Callable[[], Awaitable[None]], count: int, level: int) -> float:
    """Seconds to run `count` calls of `make`, at most `level` at a time."""
    limit = asyncio.Semaphore(level)

    async def one() -> None:
        async with limit:
            await make()

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    return time.perf_counter() - started


async def workflow_tasks(client: Client, ids: list[str]) -> dict[str, float]:
    """Median workflow tasks completed and history events per run, over `ids`."""
    tasks, events = [], []
    for workflow_id in ids:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        kinds = [event.WhichOneof("attributes") for event in history.events]
        tasks.append(kinds.count("workflow_task_completed_event_attributes"))
        events.append(len(kinds))
    return {"workflow_tasks": statistics.median(tasks), "events": statistics.median(events)}


async def measured(
    contenders: Contenders,
    name: str,
    worker: Process,
    others: dict[str, int],
    count: int,
    level: int,
) -> dict[str, Any]:
    """`count` runs of `name` at `level`: runs/s, CPU seconds per run of the worker and of
    `others` (name: pid), the worker's metrics per run, workflow tasks per run."""
    pids = {"worker": worker.pid, **others}
    ids: list[str] = []
    before, cpu_before = worker.scrape(), {k: cpu_seconds(p) for k, p in pids.items()}
    wall = await at_concurrency(lambda: contenders.one(name, worker.queue, ids), count, level)
    after, cpu_after = worker.scrape(), {k: cpu_seconds(p) for k, p in pids.items()}
    metrics = {key: after[key] - before[key] for key in after}
    wfts = max(metrics["wfts"], 1)
    lookups = max(metrics["sticky_hits"] + metrics["sticky_misses"], 1)
    return {
        "runs": count,
        "runs_per_second": count / wall,
        "cpu_ms_per_run": {k: 1000 * (cpu_after[k] - cpu_before[k]) / count for k in pids},
        "worker_rss_mib": rss_mib(worker.pid),
        **await workflow_tasks(contenders.client, ids[:: max(1, count // 8)]),
        "wft_per_run_metric": metrics["wfts"] / count,
        "wft_ms": 1000 * metrics["wft_seconds"] / wfts,
        "wft_schedule_to_start_ms": 1000
        * metrics["wft_schedule_to_start_seconds"]
        / max(metrics["wft_schedule_to_start"], 1),
        "sticky_hits": metrics["sticky_hits"],
        "sticky_misses": metrics["sticky_misses"],
        "sticky_hit_ratio": metrics["sticky_hits"] / lookups,
    }


async def throughput(
    contenders: Contenders,
    workers: dict[str, Process],
    others: dict[str, int],
    levels: list[int],
    runs: int,
    rounds: int,
) -> dict[str, Any]:
    """C, C' and D at each concurrency, `rounds` times taking turns (median runs/s reported,
    the last round's details); C/D and C'/D."""
    for name, worker in workers.items():  # warm each worker's imports and connections
        await asyncio.gather(*(contenders.one(name, worker.queue, []) for _ in range(8)))
    results: dict[str, Any] = {}
    for level in levels:
        count = max(runs, 2 * level)
        samples: dict[str, list[dict[str, Any]]] = {name: [] for name in workers}
        names = list(workers)
        for turn in range(rounds if level == max(levels) else 1):
            shift = turn % len(names)
            for name in names[shift:] + names[:shift]:
                row = await measured(contenders, name, workers[name], others, count, level)
                samples[name].append(row)
        row_of: dict[str, Any] = {}
        for name, rows in samples.items():
            rates = [r["runs_per_second"] for r in rows]
            row_of[name] = {**rows[-1], "runs_per_second": statistics.median(rates)}
            row_of[name]["runs_per_second_samples"] = rates
        floor = row_of["D"]["runs_per_second"]
        row_of["C/D"] = row_of["C"]["runs_per_second"] / floor
        row_of["C'/D"] = row_of["C'"]["runs_per_second"] / floor
        if BASELINE in row_of:
            row_of[f"{BASELINE}/D"] = row_of[BASELINE]["runs_per_second"] / floor
        results[str(level)] = row_of
    return results


async def profile(
    contenders: Contenders, worker: Process, name: str, count: int, level: int, out: Path
) -> dict[str, Any]:
    """py-spy samples the worker while it serves `count` runs of `name` at `level`: the self
    time of its Python functions by area, the top functions, and the share of the process's
    CPU py-spy saw (the rest runs outside Python: the SDK core's Rust threads)."""
    rate = 100
    sampler = py_spy(worker.pid, rate, out)
    await asyncio.sleep(1)
    cpu_before = cpu_seconds(worker.pid)
    ids: list[str] = []
    started = time.perf_counter()
    wall = await at_concurrency(lambda: contenders.one(name, worker.queue, ids), count, level)
    cpu = cpu_seconds(worker.pid) - cpu_before
    sampler.send_signal(2)  # SIGINT: py-spy writes its profile and exits
    await asyncio.to_thread(sampler.wait, 30)
    summary = summarise(json.loads(out.read_text()), rate, time.perf_counter() - started)
    return {"runs": count, "seconds": wall, "worker_cpu_seconds": cpu, **summary}


def py_spy(pid: int, rate: int, out: Path) -> subprocess.Popen[bytes]:
    """`py-spy record` of `pid` until SIGINT, without pausing it to sample (--nonblocking),
    only the thread holding the GIL (--gil: Python's CPU, not threads waiting for it)."""
    spy = Path(sys.executable).parent / "py-spy"
    command = [str(spy), "record", "--pid", str(pid), "--format", "speedscope"]
    command += ["--rate", str(rate), "--nonblocking", "--gil", "--output", str(out)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def summarise(speedscope: dict[str, Any], rate: int, seconds: float) -> dict[str, Any]:
    frames = speedscope["shared"]["frames"]
    by_function: Counter[int] = Counter()
    inclusive: Counter[str] = Counter()
    for profile in speedscope["profiles"]:
        for stack, weight in zip(profile["samples"], profile["weights"], strict=True):
            if stack:
                by_function[stack[-1]] += weight
            names = {frames[i]["name"] for i in stack}
            for label, function in INCLUSIVE.items():
                if function in names:
                    inclusive[label] += weight
    total = sum(by_function.values()) or 1
    areas: Counter[str] = Counter()
    for index, weight in by_function.items():
        areas[area(frames[index].get("file", ""))] += weight
    top = [
        {
            "function": frames[i]["name"],
            "file": short(frames[i].get("file", "")),
            "share": weight / total,
        }
        for i, weight in by_function.most_common(15)
    ]
    return {
        "python_cpu_seconds": total,  # py-spy weighs samples in seconds
        "areas": {name: weight / total for name, weight in areas.most_common()},
        "inclusive": {label: inclusive[label] / total for label in INCLUSIVE},
        "top": top,
    }


def area(file: str) -> str:
    for name, fragments in AREAS:
        if any(fragment in file for fragment in fragments):
            return name
    return "other"


def short(file: str) -> str:
    for marker in ("site-packages/", "/lib/python3", "wt-runs/", "main/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


async def scale(
    client: Client,
    env: dict[str, str],
    requests: dict[str, RunRequest],
    emulator_pid: int,
    args: Any,
) -> dict[str, Any]:
    """Throughput of C, C' (one worker process) and D (another) at `args.concurrency`, then
    the profile of the worker serving C and C'."""
    project = Process.project(env, "bench-scale")
    workers = {"C": project, "C'": project, "D": Process.floor(env, "bench-scale-floor")}
    if args.compare_sandbox:
        workers[BASELINE] = Process.default_sandbox(env, "bench-scale-default-sandbox")
    others = {"emulator": emulator_pid, "bench": os.getpid()}
    server = child_named("temporal")
    if server is not None:
        others["dev server"] = server
    try:
        for worker in workers.values():
            await worker.ready()
        contenders = Contenders(client, requests)
        results: dict[str, Any] = {
            "throughput": await throughput(
                contenders, workers, others, args.concurrency, args.runs, args.rounds
            )
        }
        if args.profile:
            level = max(args.concurrency)
            count = max(args.runs, 2 * level)
            profiles: dict[str, Any] = {}
            with tempfile.TemporaryDirectory() as scratch:
                for name in [n for n in workers if n != "D"]:
                    out = Path(scratch) / f"profile-{len(profiles)}.json"
                    worker = workers[name]
                    profiles[name] = await profile(contenders, worker, name, count, level, out)
            results["profile"] = profiles
        return results
    finally:
        for worker in {id(w): w for w in workers.values()}.values():
            worker.stop()


def markdown(results: dict[str, Any]) -> list[str]:
    """Throughput, where a run's time goes at the highest concurrency, the profile by area,
    and the worker's footprint."""
    lines: list[str] = []
    if "throughput" in results:
        lines += _throughput_markdown(results["throughput"])
    if "profile" in results:
        lines += ["", *_profile_markdown(results["profile"])]
    if "footprint" in results:
        lines += ["", *_footprint_markdown(results["footprint"])]
    return lines


def _throughput_markdown(throughput: dict[str, Any]) -> list[str]:
    lines = [
        "| concurrency | C runs/s | C' runs/s | D runs/s | C/D | C'/D |",
        "|---|---|---|---|---|---|",
    ]
    for level, row in throughput.items():
        c, r, d = (row[k]["runs_per_second"] for k in ("C", "C'", "D"))
        c_d, r_d = row["C/D"], row["C'/D"]
        lines.append(f"| {level} | {c:.1f} | {r:.1f} | {d:.1f} | {c_d:.2f} | {r_d:.2f} |")
    top = throughput[max(throughput, key=int)]
    names = [n for n in ("C", "C'", "D", BASELINE) if n in top]
    if BASELINE in top:
        lines += [
            "",
            f"{BASELINE}, the same C on a worker with the SDK's default sandbox, side by side: "
            f"{top[BASELINE]['runs_per_second']:.1f} runs/s, {top[BASELINE + '/D']:.2f} of D.",
        ]
    lines += ["", f"| per run at concurrency {max(throughput, key=int)} | " + " | ".join(names)]
    lines[-1] += " |"
    lines.append("|---|" + "---|" * len(names))
    for process in top["C"]["cpu_ms_per_run"]:
        cells = " | ".join(f"{top[n]['cpu_ms_per_run'][process]:.1f}" for n in names)
        lines.append(f"| CPU ms: {process} | {cells} |")
    rows = (
        ("workflow tasks (history)", "workflow_tasks", "{:g}"),
        ("history events", "events", "{:g}"),
        ("workflow task execution, mean ms", "wft_ms", "{:.1f}"),
        ("workflow task schedule-to-start, mean ms", "wft_schedule_to_start_ms", "{:.1f}"),
        ("sticky cache hit ratio", "sticky_hit_ratio", "{:.2f}"),
        ("worker RSS MiB", "worker_rss_mib", "{:.0f}"),
    )
    for label, key, form in rows:
        lines.append(f"| {label} | " + " | ".join(form.format(top[n][key]) for n in names) + " |")
    return lines


def _profile_markdown(profiles: dict[str, Any]) -> list[str]:
    names = list(profiles)
    lines = [
        "| worker's Python self time by area (py-spy) | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    areas = sorted(
        {a for p in profiles.values() for a in p["areas"]},
        key=lambda a: -sum(p["areas"].get(a, 0) for p in profiles.values()),
    )
    for name in areas:
        cells = " | ".join(f"{100 * profiles[n]['areas'].get(name, 0):.0f} %" for n in names)
        lines.append(f"| {name} | {cells} |")
    for label in INCLUSIVE:
        cells = " | ".join(
            f"{100 * profiles[n].get('inclusive', {}).get(label, 0):.0f} %" for n in names
        )
        lines.append(f"| {label} (inclusive) | {cells} |")
    seen = " | ".join(
        f"{p['python_cpu_seconds']:.1f} of {p['worker_cpu_seconds']:.1f} s"
        for p in profiles.values()
    )
    lines.append(f"| Python CPU sampled, of the process's | {seen} |")
    for name, profile in profiles.items():
        top = ", ".join(
            f"`{t['function']}` ({t['file']}) {100 * t['share']:.0f} %" for t in profile["top"][:6]
        )
        lines += ["", f"Top self time, {name}: {top}."]
    return lines


def _footprint_markdown(footprint: dict[str, Any]) -> list[str]:
    throttle = footprint.get("heartbeat_throttle_seconds", 2.0)
    lines = [
        f"Runs held waiting on the model, each heartbeating every {throttle:g} s:",
        "",
        "| runs in flight | ramp s | worker RSS MiB | worker cores | dev server cores "
        "| emulator cores |",
        "|---|---|---|---|---|---|",
    ]
    for row in footprint["levels"]:
        cores = row["cpu_cores"]
        label = "idle" if row["in_flight"] == 0 else str(row["in_flight"])
        lines.append(
            f"| {label} | {row['ramp_seconds']:.0f} | {row['rss_mib']:.0f} | "
            f"{cores['worker']:.2f} | {cores.get('dev server', float('nan')):.2f} | "
            f"{cores['emulator']:.2f} |"
        )
    return lines
