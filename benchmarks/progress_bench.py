"""Live progress side by side, on both backends, in one process on one machine:

  time to first token   the emulator's own stream read directly with the SDK, against the
                        first `text.delta` a follower of an AssistantRun receives, both
                        timed from the moment the question is asked
  history per minute    events a streamed run adds to its history per minute of model output,
                        against the same run with `stream: false`
  followers             the same streamed run with 0, 1 and 10 followers: its history and its
                        latency, and the queries the followers made

    python -m benchmarks.progress_bench [--repeat 5] [--quick]

Results go to benchmarks/results/progress.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from openai import AsyncOpenAI
from temporalio.client import Client

from benchmarks.emulator_bench import RESULTS, free_port, start_emulator
from benchmarks.runs_bench import KEY, bench_settings
from workers.follow import follow
from workers.temporal_server import local_test_environment
from workers.worker import build_worker
from workflows.contracts import RunRequest
from workflows.run.progress import TextDelta, TextDone
from workflows.run.workflow import AssistantRun

QUEUE = "bench-progress"
QUESTION = "Say hello to Ada"
LONG = " ".join(f"word{i}" for i in range(400))
STREAMED = f"[[emulator delta_interval=0.05]] {LONG}"
"""About 100 deltas, 50 ms apart: five seconds of model output."""
BACKENDS = ("assistants", "responses")


class ProgressBench:
    def __init__(self, openai: AsyncOpenAI, client: Client, assistant_id: str) -> None:
        self.openai = openai
        self.client = client
        self.assistant_id = assistant_id

    def request(self, backend: str, text: str, stream: bool = True) -> RunRequest:
        target: dict[str, Any] = (
            {"assistant_id": self.assistant_id}
            if backend == "assistants"
            else {"assistant": {"name": "bench", "model": "gpt-4o"}}
        )
        return RunRequest.model_validate(
            {**target, "backend": backend, "stream": stream, "messages": [{"content": text}]}
        )

    async def direct_first_token(self, backend: str) -> float:
        began = time.perf_counter()
        if backend == "responses":
            stream = await self.openai.responses.create(
                model="gpt-4o", input=QUESTION, background=True, store=True, stream=True
            )
            async for event in stream:
                if event.type == "response.output_text.delta":
                    break
        else:
            run_stream = await self.openai.beta.threads.create_and_run(
                assistant_id=self.assistant_id,
                thread={"messages": [{"role": "user", "content": QUESTION}]},
                stream=True,
            )
            async for run_event in run_stream:
                if run_event.event == "thread.message.delta":
                    break
        return time.perf_counter() - began

    async def followed_first_token(self, backend: str) -> float:
        began = time.perf_counter()
        handle = await self.start(self.request(backend, QUESTION))
        first = None
        async for event in follow(self.client, handle.id):
            if first is None and isinstance(event, TextDelta):
                first = time.perf_counter() - began
        assert first is not None, "the run streamed no text"
        return first

    async def start(self, request: RunRequest) -> Any:
        return await self.client.start_workflow(
            AssistantRun.run, request, id=f"bench-progress-{time.time_ns()}", task_queue=QUEUE
        )

    async def history_length(self, workflow_id: str) -> int:
        history = await self.client.get_workflow_handle(workflow_id).fetch_history()
        return len(history.events)

    async def streamed_run(
        self, backend: str, followers: int, stream: bool = True
    ) -> dict[str, Any]:
        """A run of about five seconds of output with `followers` following it."""
        began = time.perf_counter()
        handle = await self.start(self.request(backend, STREAMED, stream))
        seen = await asyncio.gather(*(self.watch(handle.id) for _ in range(followers)))
        await handle.result()
        seconds = time.perf_counter() - began
        return {
            "events": await self.history_length(handle.id),
            "seconds": seconds,
            "output_seconds": seen[0] if seen else None,
        }

    async def watch(self, workflow_id: str) -> float:
        """Follow the run; how long its text took to arrive, first delta to last."""
        first = last = None
        async for event in follow(self.client, workflow_id):
            if isinstance(event, TextDelta):
                first = first or time.perf_counter()
            if isinstance(event, TextDone):
                last = time.perf_counter()
        return (last or 0.0) - (first or 0.0)


async def medians(repeat: int, measure: Callable[[], Awaitable[float]]) -> dict[str, float]:
    samples = [await measure() for _ in range(repeat)]
    return {"p50": statistics.median(samples), "min": min(samples), "max": max(samples)}


async def measure(bench: ProgressBench, backend: str, repeat: int) -> dict[str, Any]:
    direct = await medians(repeat, lambda: bench.direct_first_token(backend))
    followed = await medians(repeat, lambda: bench.followed_first_token(backend))
    quiet = await bench.streamed_run(backend, 0, stream=False)
    runs = {str(n): await bench.streamed_run(backend, n) for n in (0, 1, 10)}
    minutes = runs["1"]["output_seconds"] / 60
    return {
        "first_token": {"direct": direct, "followed": followed},
        "first_token_difference_ms": (followed["p50"] - direct["p50"]) * 1000,
        "unstreamed_events": quiet["events"],
        "events_per_output_minute": (runs["1"]["events"] - quiet["events"]) / minutes,
        "followers": runs,
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    emulator = start_emulator(port, args.in_progress, queued=args.queued)
    base = f"http://127.0.0.1:{port}/v1"
    env = await local_test_environment()
    address = env.client.service_client.config.target_host
    try:
        settings = bench_settings(base, address, QUEUE)
        async with AsyncOpenAI(base_url=base, api_key=KEY, max_retries=0) as openai:
            assistant = await openai.beta.assistants.create(model="gpt-4o")
            bench = ProgressBench(openai, env.client, assistant.id)
            async with build_worker(env.client, settings):
                return {
                    "timings": {"queued": args.queued, "in_progress": args.in_progress},
                    **{b: await measure(bench, b, args.repeat) for b in BACKENDS},
                }
    finally:
        emulator.kill()
        await env.shutdown()


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "| backend | first token: direct stream p50 | through a follower p50 | difference "
        "| history events per minute of output | followers 0 / 1 / 10: history events "
        "| run seconds 0 / 1 / 10 |",
        "|---|---|---|---|---|---|---|",
    ]
    for backend in BACKENDS:
        row = results[backend]
        token = row["first_token"]
        followers = row["followers"]
        events = " / ".join(str(followers[n]["events"]) for n in ("0", "1", "10"))
        seconds = " / ".join(f"{followers[n]['seconds']:.2f}" for n in ("0", "1", "10"))
        lines.append(
            f"| {backend} | {token['direct']['p50'] * 1000:.0f} ms | "
            f"{token['followed']['p50'] * 1000:.0f} ms | "
            f"{row['first_token_difference_ms']:+.0f} ms | "
            f"{row['events_per_output_minute']:.0f} (unstreamed run: "
            f"{row['unstreamed_events']} in all) | {events} | {seconds} |"
        )
    return "\n".join(lines) + "\n"


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queued", type=float, default=0.1)
    parser.add_argument("--in-progress", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="a smoke run with small numbers")
    args = parser.parse_args()
    if args.quick:
        args.repeat, args.in_progress = 2, 0.3
    return args


if __name__ == "__main__":
    arguments = parse()
    outcome = asyncio.run(main(arguments))
    RESULTS.mkdir(exist_ok=True)
    suffix = "-quick" if arguments.quick else ""
    (RESULTS / f"progress{suffix}.json").write_text(json.dumps(outcome, indent=2))
    (RESULTS / f"progress{suffix}.md").write_text(markdown(outcome))
    print(markdown(outcome))
    sys.stdout.flush()
    os._exit(0)
