"""Emulator performance: how fast it answers, and how many run streams it holds open.

    python -m benchmarks.emulator_bench [--requests 2000] [--streams 1000]

The emulator runs as its own process (`durable-assistants emulator`), as in the dev stack.
Latency of `GET /threads/{id}/runs/{id}` is reported next to the same server's health
endpoint (same HTTP stack, no API logic) measured in the same run, so the ratio says what
the API logic costs on this machine, whatever its noise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx

RESULTS = Path(__file__).with_name("results")
HEADERS = {"Authorization": "Bearer sk-bench", "OpenAI-Beta": "assistants=v2"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_emulator(port: int, in_progress: float, queued: float = 0.05) -> subprocess.Popen[bytes]:
    cli = Path(sys.executable).parent / "durable-assistants"
    process = subprocess.Popen(
        [
            str(cli),
            "emulator",
            "--port",
            str(port),
            "--queued",
            str(queued),
            "--in-progress",
            str(in_progress),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/_emulator/health").raise_for_status()
            return process
        except httpx.HTTPError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the emulator did not start")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed(client: httpx.Client, url: str, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        client.get(url, headers=HEADERS).raise_for_status()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": round(statistics.median(ordered), 3),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1], 3),
    }


def retrieve_latency(base: str, requests: int) -> dict[str, Any]:
    with httpx.Client() as client:
        assistant = client.post(
            f"{base}/v1/assistants", json={"model": "gpt-4o"}, headers=HEADERS
        ).json()
        run = client.post(
            f"{base}/v1/threads/runs",
            headers=HEADERS,
            json={
                "assistant_id": assistant["id"],
                "thread": {"messages": [{"role": "user", "content": "hi"}]},
            },
        ).json()
        run_url = f"{base}/v1/threads/{run['thread_id']}/runs/{run['id']}"
        health_url = f"{base}/_emulator/health"
        timed(client, run_url, 200)  # warm up
        retrieve: list[float] = []
        baseline: list[float] = []
        for _ in range(10):  # alternate, so drift on a noisy machine hits both alike
            retrieve += timed(client, run_url, requests // 10)
            baseline += timed(client, health_url, requests // 10)
    result: dict[str, Any] = {
        "run_retrieve": summary(retrieve),
        "health_baseline": summary(baseline),
    }
    result["ratio_median"] = round(
        result["run_retrieve"]["median_ms"] / result["health_baseline"]["median_ms"], 2
    )
    return result


async def open_streams(base: str, count: int, pid: int) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=count + 10, max_keepalive_connections=count + 10)
    async with httpx.AsyncClient(limits=limits, timeout=120) as client:
        assistant = (
            await client.post(f"{base}/v1/assistants", json={"model": "gpt-4o"}, headers=HEADERS)
        ).json()
        peak_rss = 0.0
        opened = 0

        async def one(index: int) -> int:
            nonlocal opened
            message = {"role": "user", "content": f"hello {index}"}
            body = {
                "assistant_id": assistant["id"],
                "stream": True,
                "thread": {"messages": [message]},
            }
            events = 0
            async with client.stream(
                "POST", f"{base}/v1/threads/runs", json=body, headers=HEADERS
            ) as response:
                opened += 1
                async for line in response.aiter_lines():
                    events += line.startswith("event: ")
            return events

        async def sample_rss() -> None:
            nonlocal peak_rss
            while True:
                peak_rss = max(peak_rss, rss_mib(pid))
                await asyncio.sleep(0.1)

        sampler = asyncio.create_task(sample_rss())
        started = time.perf_counter()
        counts = await asyncio.gather(*(one(i) for i in range(count)), return_exceptions=True)
        elapsed = time.perf_counter() - started
        sampler.cancel()
    completed = [c for c in counts if isinstance(c, int) and c > 0]
    return {
        "streams": count,
        "completed": len(completed),
        "errors": count - len(completed),
        "events_per_stream": min(completed) if completed else 0,
        "wall_seconds": round(elapsed, 2),
        "peak_rss_mib": round(peak_rss, 1),
    }


def markdown(result: dict[str, Any]) -> str:
    latency, streams = result["latency"], result["streams"]
    return "\n".join(
        [
            "| emulator figure | value |",
            "|---|---|",
            f"| run retrieve, median / p95 | {latency['run_retrieve']['median_ms']} ms / "
            f"{latency['run_retrieve']['p95_ms']} ms |",
            f"| same server's health endpoint, median (baseline) | "
            f"{latency['health_baseline']['median_ms']} ms |",
            f"| retrieve / baseline | {latency['ratio_median']} |",
            f"| concurrent run streams held open (model time {result['in_progress']} s) | "
            f"{streams['completed']} of {streams['streams']} completed, "
            f"{streams['errors']} errors, {streams['wall_seconds']} s wall |",
            f"| emulator peak RSS during the streams | {streams['peak_rss_mib']} MiB |",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--in-progress", type=float, default=5.0)
    args = parser.parse_args()
    port = free_port()
    process = start_emulator(port, args.in_progress)
    base = f"http://127.0.0.1:{port}"
    try:
        result = {
            "in_progress": args.in_progress,
            "latency": retrieve_latency(base, args.requests),
            "streams": asyncio.run(open_streams(base, args.streams, process.pid)),
        }
    finally:
        process.terminate()
        process.wait()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "emulator.json").write_text(json.dumps(result, indent=2) + "\n")
    table = markdown(result)
    (RESULTS / "emulator.md").write_text(table + "\n")
    print(table)
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
