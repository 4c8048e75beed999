"""Cost as work grows, side by side in one run: an ingest of N small files and a cleanup of
N objects, for N = 1,000 and N = 10,000 (`--sizes`), each on a fresh worker process
(`durable-assistants worker`) whose RSS is sampled throughout.

  ingest   VectorStoreIngest of N small files (paths) into a new vector store
           (and again on a warm worker: one that has ingested 1,000 files 5 times before;
           and, as the baseline, the same N files as ingests of files_per_child one after
           another on a fresh worker: the same work without one request holding all of it)
  cleanup  Cleanup of the N files that ingest uploaded (file_max_age_seconds=0)

For each: wall time, the worker's idle and peak RSS, executions (continue-as-new), the most
history events and bytes of one execution, and the ratios N=10,000 / N=1,000.

    python -m benchmarks.scale_bench [--quick] [--sizes 1000 10000]

Results go to benchmarks/results/scale.{json,md} (`--quick`: scale-quick.*).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import httpx2 as httpx
from temporalio.api.enums.v1 import EventType, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from benchmarks.emulator_bench import RESULTS, free_port, rss_mib, start_emulator
from workers.temporal_server import local_test_environment
from workflows.cleanup.workflow import Cleanup
from workflows.contracts import CleanupPolicy, IngestRequest
from workflows.ingest.workflow import VectorStoreIngest

KEY = "sk-bench"
QUEUE = "bench-scale"
WORKS = {
    "ingest": "ingest",
    "ingest_warm": "ingest, warm worker",
    "ingest_in_turns": "ingests of files_per_child in turn",
    "cleanup": "cleanup",
}
TARGETS = {"rss_ratio": 1.1, "events_ratio": 1.1}
"""Flat: 10x the work may not cost the worker's memory or one execution's history more."""


def spawn_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    cli = Path(sys.executable).parent / "durable-assistants"
    return subprocess.Popen([str(cli), "worker"], env=env, stderr=subprocess.DEVNULL)


async def executions(
    client: Client, workflow_id: str, run_id: str | None = None
) -> list[dict[str, int]]:
    """Events and bytes of each execution of a workflow, following continue-as-new and
    child workflows."""
    history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
    size = sum(event.ByteSize() for event in history.events)
    found = [{"events": len(history.events), "bytes": size}]
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED:
            child = event.child_workflow_execution_started_event_attributes.workflow_execution
            found += await executions(client, child.workflow_id, child.run_id)
    last = history.events[-1]
    if last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
        following = last.workflow_execution_continued_as_new_event_attributes
        found += await executions(client, workflow_id, following.new_execution_run_id)
    return found


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def busiest_routes(admin: str, since: float, top: int = 4) -> dict[str, dict[str, float]]:
    """The emulator's routes that took the most time since `since`: requests and seconds."""
    logged = httpx.get(f"{admin}/requests", params={"since": since}).json()["data"]
    routes: dict[str, dict[str, float]] = {}
    for entry in logged:
        parts = entry["path"].split("/")
        path = "/".join("{id}" if len(part) >= 20 else part for part in parts)
        route = routes.setdefault(f"{entry['method']} {path}", {"requests": 0, "seconds": 0.0})
        route["requests"] += 1
        route["seconds"] += entry["answered"] - entry["arrived"]
    ranked = sorted(routes.items(), key=lambda item: -item[1]["seconds"])
    return dict(ranked[:top])


async def until_polling(client: Client, pid: int) -> None:
    """Wait until the worker process `pid` polls the queue (its identity is pid@host)."""
    request = DescribeTaskQueueRequest(
        namespace=client.namespace,
        task_queue=TaskQueue(name=QUEUE),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
    )
    for _ in range(600):
        described = await client.workflow_service.describe_task_queue(request)
        if any(p.identity.startswith(f"{pid}@") for p in described.pollers):
            return
        await asyncio.sleep(0.1)
    raise RuntimeError("the worker never polled")


async def measured(
    client: Client,
    env: dict[str, str],
    admin: str,
    workflow_id: str,
    work: Callable[[], Awaitable[dict[str, Any]]],
    warm_up: Callable[[], Awaitable[object]] | None = None,
) -> dict[str, Any]:
    """Run `work` on a fresh worker process (after `warm_up`, if given, on the same worker):
    wall time, RSS, executions, history sizes."""
    worker = spawn_worker(env)
    try:
        await until_polling(client, worker.pid)
        if warm_up is not None:
            await warm_up()
        await asyncio.sleep(1)
        idle = rss_mib(worker.pid)
        peak, cpu_before = idle, cpu_seconds(worker.pid)
        since = time.time()
        task = asyncio.ensure_future(work())
        began = time.perf_counter()
        while not task.done():
            peak = max(peak, rss_mib(worker.pid))
            await asyncio.wait([task], timeout=0.1)
        seconds = time.perf_counter() - began
        cpu = cpu_seconds(worker.pid) - cpu_before
        outcome = task.result()
    finally:
        worker.kill()
        worker.wait()
    runs = await executions(client, workflow_id, outcome.pop("run_id"))
    return {
        "seconds": seconds,
        "idle_rss_mib": idle,
        "peak_rss_mib": peak,
        "worker_cpu_seconds": cpu,
        "executions": len(runs),
        "max_events": max(r["events"] for r in runs),
        "max_history_kib": max(r["bytes"] for r in runs) / 1024,
        "outcome": outcome,
        "busiest_routes": busiest_routes(admin, since),
    }


async def ingest(
    client: Client, folder: Path, count: int, per_child: int, workflow_id: str
) -> dict[str, Any]:
    tag = uuid.uuid4().hex
    for n in range(count):
        (folder / f"doc{n}.md").write_text(f"Document {n} of {tag}: the code word is alpha{n}.")
    request = IngestRequest.model_validate(
        {
            "vector_store": {"name": f"scale-{tag[:8]}"},
            "files": [{"path": str(folder / f"doc{n}.md")} for n in range(count)],
            "files_per_child": per_child,
        }
    )
    handle = await client.start_workflow(
        VectorStoreIngest.run, request, id=workflow_id, task_queue=QUEUE
    )
    result = await handle.result()
    files, completed = sum(result.by_status.values()), result.by_status.get("completed", 0)
    return {"files": files, "completed": completed, "run_id": handle.result_run_id}


async def warm_up(client: Client, count: int, times: int) -> None:
    """`times` ingests of `count` new files one after another, as a worker that has been
    serving a while has done."""
    for n in range(times):
        with tempfile.TemporaryDirectory() as folder:
            await ingest(client, Path(folder), count, count, f"scale-warm-{n}-{uuid.uuid4().hex}")


async def ingests_in_turn(
    client: Client, folder: Path, count: int, per_child: int, workflow_id: str
) -> dict[str, Any]:
    """The `count` files as ingests of `per_child` one after another (the last one's workflow
    id is `workflow_id`)."""
    turns = math.ceil(count / per_child)
    files = completed = 0
    for turn in range(turns):
        (folder / str(turn)).mkdir()
        last = turn == turns - 1
        turn_id = workflow_id if last else f"{workflow_id}-{turn}"
        size = min(per_child, count - turn * per_child)
        outcome = await ingest(client, folder / str(turn), size, per_child, turn_id)
        files, completed = files + outcome["files"], completed + outcome["completed"]
    return {"files": files, "completed": completed, "run_id": outcome["run_id"]}


async def cleanup(client: Client, count: int, pages: int, workflow_id: str) -> dict[str, Any]:
    policy = CleanupPolicy(file_max_age_seconds=0, max_deletions=count, pages_per_execution=pages)
    handle = await client.start_workflow(Cleanup.run, policy, id=workflow_id, task_queue=QUEUE)
    report = await handle.result()
    deleted, failed = report.deleted_count, report.failed_count
    return {"deleted": deleted, "failed": failed, "run_id": handle.result_run_id}


async def main(args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    emulator = start_emulator(port, in_progress=0.2)
    env = await local_test_environment()
    client, address = env.client, env.client.service_client.config.target_host
    admin = f"http://127.0.0.1:{port}/_emulator"
    worker_env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),  # this checkout's code
        "TEMPORAL_ADDRESS": address,
        "TEMPORAL_TASK_QUEUE": QUEUE,
        "OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1",
        "OPENAI_API_KEY": KEY,
        "LOG_LEVEL": "WARNING",
    }
    results: dict[str, Any] = {
        "sizes": args.sizes,
        "files_per_child": args.files_per_child,
        "pages_per_execution": args.pages_per_execution,
        "warm_ups": args.warm_ups,
        "ingest": {},
        "ingest_warm": {},
        "ingest_in_turns": {},
        "cleanup": {},
    }
    try:
        warmed = partial(warm_up, client, args.files_per_child, args.warm_ups)
        for count in args.sizes:
            for work, how, before in (
                ("ingest", ingest, None),
                ("ingest_warm", ingest, warmed),
                ("ingest_in_turns", ingests_in_turn, None),
            ):
                with tempfile.TemporaryDirectory() as folder:
                    workflow_id = f"scale-{work}-{count}-{uuid.uuid4().hex[:6]}"
                    files = (Path(folder), count, args.files_per_child, workflow_id)
                    ingested = partial(how, client, *files)
                    results[work][str(count)] = await measured(
                        client, worker_env, admin, workflow_id, ingested, before
                    )
            workflow_id = f"scale-cleanup-{count}-{uuid.uuid4().hex[:6]}"
            results["cleanup"][str(count)] = await measured(
                client,
                worker_env,
                admin,
                workflow_id,
                lambda: cleanup(client, count, args.pages_per_execution, workflow_id),  # noqa: B023
            )
            print(json.dumps({k: results[k].get(str(count)) for k in WORKS}))
        return results
    finally:
        emulator.kill()
        await env.shutdown()


def ratio(rows: dict[str, Any], key: str) -> float:
    return ratio_of(rows[max(rows, key=int)], rows[min(rows, key=int)], key)


def ratio_of(row: dict[str, Any], baseline: dict[str, Any], key: str) -> float:
    return float(row[key] / baseline[key])


def markdown(results: dict[str, Any]) -> str:
    sizes = results["sizes"]
    small, large = str(min(sizes)), str(max(sizes))
    lines = [
        "| work | N | wall time | worker CPU | worker RSS idle / peak | executions "
        "| max events / execution | max history / execution |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for work in WORKS:
        for count in sizes:
            row = results[work][str(count)]
            lines.append(
                f"| {WORKS[work]} | {count:,} | {row['seconds']:.1f} s | "
                f"{row['worker_cpu_seconds']:.1f} s | {row['idle_rss_mib']:.0f} / "
                f"{row['peak_rss_mib']:.0f} MiB | {row['executions']} | {row['max_events']} | "
                f"{row['max_history_kib']:.0f} KiB |"
            )
    lines += [
        "",
        f"Ingest: files_per_child={results['files_per_child']}; warm worker: after "
        f"{results['warm_ups']} ingests of files_per_child files on the same worker; cleanup: "
        f"pages_per_execution={results['pages_per_execution']} (pages of 100). Executions "
        "count children and continue-as-new.",
        "",
        f"| ratio N={int(large):,} / N={int(small):,} | peak RSS (target <= "
        f"{TARGETS['rss_ratio']}) | max events / execution (target <= "
        f"{TARGETS['events_ratio']}) | wall time (linear: {int(large) / int(small):g}) "
        "| worker CPU |",
        "|---|---|---|---|---|",
    ]
    for work in WORKS:
        rows = results[work]
        lines.append(
            f"| {WORKS[work]} | {ratio(rows, 'peak_rss_mib'):.2f} "
            f"| {ratio(rows, 'max_events'):.2f} | {ratio(rows, 'seconds'):.1f} "
            f"| {ratio(rows, 'worker_cpu_seconds'):.1f} |"
        )
    whole, in_turn = results["ingest"][large], results["ingest_in_turns"][large]
    lines += [
        "",
        f"One ingest of {int(large):,} files against the same files as ingests of "
        f"{results['files_per_child']:,} in turn (each on a fresh worker; in turn: executions "
        f"and events of the last): peak RSS {whole['peak_rss_mib']:.0f} / "
        f"{in_turn['peak_rss_mib']:.0f} MiB = {ratio_of(whole, in_turn, 'peak_rss_mib'):.2f}.",
    ]
    lines += ["", f"Emulator time by route at N={int(large):,} (requests, seconds answering):", ""]
    for work in ("ingest", "cleanup"):
        routes = results[work][large]["busiest_routes"]
        spent = ", ".join(
            f"`{route}` {row['requests']:,.0f} / {row['seconds']:.0f} s"
            for route, row in routes.items()
        )
        lines.append(f"- {work}: {spent}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--files-per-child", type=int, default=1000)
    parser.add_argument(
        "--pages-per-execution", type=int, default=10, help="cleanup pages (of 100) per execution"
    )
    parser.add_argument(
        "--warm-ups", type=int, default=5, help="ingests before the warm worker's measured one"
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: N = 100 and 300")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.sizes, arguments.files_per_child = [100, 300], 100
        arguments.pages_per_execution, arguments.warm_ups = 1, 1
    found = asyncio.run(main(arguments))
    RESULTS.mkdir(exist_ok=True)
    suffix = "-quick" if arguments.quick else ""
    (RESULTS / f"scale{suffix}.json").write_text(json.dumps(found, indent=2))
    (RESULTS / f"scale{suffix}.md").write_text(markdown(found))
    print(markdown(found))
    sys.stdout.flush()
    os._exit(0)  # temporalio may abort the interpreter at exit (see workers/cli.py)
