"""The fleet limits side by side, in one process on one machine:

  latency  a run with no limit vs with a very high MODEL_REQUESTS_PER_SECOND (the limiter's
           overhead: the same model queue either way, only the server-side rate differs),
           alternating, median of `--repeat` runs each
  rate     60 concurrent runs with MODEL_REQUESTS_PER_SECOND=10: the rate the emulator saw

    python -m benchmarks.limits_bench [--repeat 20]

Results go to benchmarks/results/limits.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from typing import Any

import httpx2 as httpx
from pydantic import SecretStr
from temporalio.client import Client

from benchmarks.emulator_bench import RESULTS, free_port, start_emulator
from workers.settings import Settings, load_settings
from workers.temporal_server import local_test_environment
from workers.worker import build_worker
from workflows.contracts import RunRequest
from workflows.run.workflow import AssistantRun

KEY = "sk-bench"
RATE = 10.0
REQUEST = RunRequest.model_validate(
    {"assistant": {"name": "bench", "model": "gpt-4o"}, "messages": [{"content": "Say hello"}]}
)


def settings(base_url: str, address: str, queue: str, rate: float | None) -> Settings:
    return load_settings(
        temporal_address=address,
        temporal_task_queue=queue,
        openai_base_url=base_url,
        openai_api_key=SecretStr(KEY),
        openai_backend="responses",
        model_requests_per_second=rate,
        log_level="WARNING",
    )


async def one_run(client: Client, queue: str) -> float:
    began = time.perf_counter()
    await client.execute_workflow(
        AssistantRun.run, REQUEST, id=f"bench-{uuid.uuid4()}", task_queue=queue
    )
    return time.perf_counter() - began


async def fleet_rate(client: Client, queue: str, admin: str, count: int = 60) -> float:
    since = time.time()
    await asyncio.gather(*(one_run(client, queue) for _ in range(count)))
    logged = httpx.get(f"{admin}/requests", params={"since": since}).json()["data"]
    arrivals: list[float] = sorted(
        float(r["arrived"])
        for r in logged
        if r["method"] == "POST" and r["path"] == "/v1/responses"
    )
    cut = len(arrivals) // 10
    steady = arrivals[cut : len(arrivals) - cut]
    return float((len(steady) - 1) / (steady[-1] - steady[0]))


async def main(repeat: int) -> dict[str, Any]:
    port = free_port()
    emulator = start_emulator(port, in_progress=0.2)
    env = await local_test_environment()
    try:
        client, address = env.client, env.client.service_client.config.target_host
        base = f"http://127.0.0.1:{port}/v1"
        admin = f"http://127.0.0.1:{port}/_emulator"
        unlimited = settings(base, address, "bench-unlimited", None)
        high = settings(base, address, "bench-high", 100_000.0)
        limited = settings(base, address, "bench-limited", RATE)
        samples: dict[str, list[float]] = {"unlimited": [], "high limit": []}
        async with build_worker(client, unlimited), build_worker(client, high):
            for queue in ("bench-unlimited", "bench-high"):  # warm up
                await one_run(client, queue)
            for _ in range(repeat):
                samples["unlimited"].append(await one_run(client, "bench-unlimited"))
                samples["high limit"].append(await one_run(client, "bench-high"))
        async with build_worker(client, limited):
            await one_run(client, "bench-limited")
            rate = await fleet_rate(client, "bench-limited", admin)
        medians = {name: statistics.median(values) for name, values in samples.items()}
        return {
            "repeat": repeat,
            "median_seconds": medians,
            "ratio_high_over_unlimited": medians["high limit"] / medians["unlimited"],
            "configured_rate": RATE,
            "achieved_rate": rate,
        }
    finally:
        emulator.terminate()
        await env.shutdown()


def markdown(results: dict[str, Any]) -> str:
    medians = results["median_seconds"]
    return "\n".join(
        [
            "| measurement | value |",
            "|---|---|",
            f"| run latency, no limit (median of {results['repeat']}) | "
            f"{medians['unlimited'] * 1000:.0f} ms |",
            f"| run latency, MODEL_REQUESTS_PER_SECOND=100000 | "
            f"{medians['high limit'] * 1000:.0f} ms |",
            f"| ratio (high limit / no limit) | {results['ratio_high_over_unlimited']:.2f} |",
            f"| fleet rate for MODEL_REQUESTS_PER_SECOND={results['configured_rate']:g} | "
            f"{results['achieved_rate']:.2f}/s |",
        ]
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    found = asyncio.run(main(parser.parse_args().repeat))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "limits.json").write_text(json.dumps(found, indent=2))
    (RESULTS / "limits.md").write_text(markdown(found) + "\n")
    print(markdown(found))
    os._exit(0)  # temporalio may abort the interpreter at exit (see workers/cli.py)
