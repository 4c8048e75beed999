"""A run's history stays bounded whatever its length, measured on the responses backend:

  streamed answers   a long answer streamed to followers (one minute, ten minutes of text),
                     against the same answer unstreamed: history events, signals
  many rounds        a run of 500 rounds of tool calls: executions (it continues as new when
                     Temporal suggests it), the most events of one, all of them

Temporal refuses to grow a history past 51,200 events (or 50 MB) and terminates the run.

    python -m benchmarks.history_bench [--answer-minutes 10] [--rounds 500] [--quick]

Results go to benchmarks/results/history.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any

from temporalio.client import Client

from benchmarks.emulator_bench import RESULTS, free_port, start_emulator
from benchmarks.runs_bench import bench_settings
from workers.temporal_server import local_test_environment
from workers.worker import build_worker
from workflows.contracts import RunRequest
from workflows.run.workflow import AssistantRun

QUEUE = "bench-history"
WORDS_PER_DELTA = 4  # the emulator's
CITIES = ["Paris", "Rome", "Oslo", "Lima", "Cairo", "Delhi", "Tokyo", "Quito"]
TEMPORAL_LIMIT = 51_200


def request(text: str, stream: bool = True) -> RunRequest:
    return RunRequest.model_validate(
        {
            "assistant": {"name": "bench", "model": "gpt-4o", "tools": ["get_weather"]},
            "backend": "responses",
            "stream": stream,
            "messages": [{"content": text}],
        }
    )


def answer_of(minutes: float, words: int = 2400) -> str:
    """A message the emulator answers with `words` words over about `minutes` minutes."""
    interval = minutes * 60 / (words / WORDS_PER_DELTA)
    body = " ".join(f"word{n}" for n in range(words))
    return f"[[emulator delta_interval={interval:.3f}]] {body}"


async def measure(client: Client, name: str, run: RunRequest) -> dict[str, Any]:
    began = time.perf_counter()
    handle = await client.start_workflow(
        AssistantRun.run, run, id=f"bench-history-{name}-{time.time_ns()}", task_queue=QUEUE
    )
    result = await handle.result()
    seconds = time.perf_counter() - began
    lengths, signals = [], 0
    async for execution in client.list_workflows(f'WorkflowId = "{handle.id}"'):
        history = await client.get_workflow_handle(
            handle.id, run_id=execution.run_id
        ).fetch_history()
        lengths.append(len(history.events))
        signals += sum(
            e.HasField("workflow_execution_signaled_event_attributes") for e in history.events
        )
    return {
        "status": result.status,
        "seconds": round(seconds, 1),
        "tool_rounds": result.tool_rounds,
        "executions": len(lengths),
        "most_events": max(lengths),
        "events": sum(lengths),
        "signals": signals,
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    emulator = start_emulator(port, args.in_progress, queued=args.queued)
    env = await local_test_environment()
    address = env.client.service_client.config.target_host
    try:
        settings = bench_settings(f"http://127.0.0.1:{port}/v1", address, QUEUE)
        settings = settings.model_copy(update={"openai_backend": "responses"})
        rounds = " then ".join(f"weather in {CITIES[n % len(CITIES)]}" for n in range(args.rounds))
        async with build_worker(env.client, settings):
            runs = {
                "unstreamed answer (baseline)": request(answer_of(args.short_minutes), False),
                f"streamed answer, {args.short_minutes:g} min": request(
                    answer_of(args.short_minutes)
                ),
                f"streamed answer, {args.answer_minutes:g} min": request(
                    answer_of(args.answer_minutes)
                ),
                f"{args.rounds} rounds of tool calls": request(rounds),
            }
            measured = await asyncio.gather(
                *(measure(env.client, str(n), r) for n, r in enumerate(runs.values()))
            )
        return dict(zip(runs, measured, strict=True))
    finally:
        emulator.kill()
        await env.shutdown()


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "| run | status | seconds | executions | most events in one | events in all | signals |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in results.items():
        lines.append(
            f"| {name} | {row['status']} | {row['seconds']} | {row['executions']} | "
            f"{row['most_events']} | {row['events']} | {row['signals']} |"
        )
    return "\n".join(lines) + f"\n\nTemporal terminates a run past {TEMPORAL_LIMIT:,} events.\n"


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--answer-minutes", type=float, default=10.0)
    parser.add_argument("--short-minutes", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=500)
    parser.add_argument("--queued", type=float, default=0.05)
    parser.add_argument("--in-progress", type=float, default=0.2)
    parser.add_argument("--quick", action="store_true", help="a smoke run with small numbers")
    args = parser.parse_args()
    if args.quick:
        args.answer_minutes, args.short_minutes, args.rounds = 1.0, 0.25, 60
    return args


if __name__ == "__main__":
    arguments = parse()
    outcome = asyncio.run(main(arguments))
    RESULTS.mkdir(exist_ok=True)
    suffix = "-quick" if arguments.quick else ""
    (RESULTS / f"history{suffix}.json").write_text(json.dumps(outcome, indent=2))
    (RESULTS / f"history{suffix}.md").write_text(markdown(outcome))
    print(markdown(outcome))
    sys.stdout.flush()
    os._exit(0)
