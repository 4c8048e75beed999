"""Cost as a conversation grows: one `AssistantThread` answering N messages one after another
(every k-th asks for a tool), on a worker of its own process, per message:

  latency          from send_message to its answer, as a caller sees it
  history events   of the thread execution the message landed in (and what the message added
                   to it), and of the message's child `AssistantRun`
  execution        how many times the conversation had continued as new
  worker           RSS of the `durable-assistants worker` process after the answer, and the
                   CPU time it spent on the message

    python -m benchmarks.conversation_bench [--messages 1000] [--tool-every 5] [--quick]

The default of 1,000 messages (issue 23's conversation: 5 continue-as-new cycles) takes about
7.5 minutes on 2 cores: what bounds it is about 0.39 s per message without a tool, of
which the emulator's model time is 0.07 s and the rest workflow and activity tasks
dispatched by the dev server (about 40 ms each once past the first few messages).

The first 100 messages are set against the last 100 in the same run (ratios, target ~1.0).
Results go to benchmarks/results/conversation.{json,md} and conversation.png.
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
from pathlib import Path
from typing import Any

from openai import AsyncOpenAI
from temporalio.client import Client

from benchmarks.emulator_bench import RESULTS, free_port, rss_mib, start_emulator
from benchmarks.runs_bench import spawn_worker
from workers.client import send_message, thread_workflow_id
from workers.temporal_server import local_test_environment
from workflows.contracts import ThreadConfig

KEY = "sk-bench"
QUEUE = "bench-conversation"
TOOLS = "activities.example_tools"
TOOL_MESSAGE = "What is the weather in Paris?"
WINDOW = 100
"""Messages compared at the start and at the end of the conversation."""


async def thread_config(
    openai: AsyncOpenAI, backend: str, args: argparse.Namespace
) -> ThreadConfig:
    tools = ["get_weather", "calculate", "get_order_status"]
    fields: dict[str, Any] = {
        "key": f"bench-{uuid.uuid4().hex[:8]}",
        "backend": backend,
        "runs_before_continue_as_new": args.runs_before_continue_as_new,
    }
    if backend == "assistants":
        from workers.settings import load_settings
        from workers.wiring import project_tools

        definitions = project_tools(load_settings(tools_modules=TOOLS)).definitions("assistants")
        assistant = await openai.beta.assistants.create(model="gpt-4o", tools=definitions)  # type: ignore[arg-type]
        fields["assistant_id"] = assistant.id
    else:
        fields["assistant"] = {"name": "bench", "model": "gpt-4o", "tools": tools}
    return ThreadConfig.model_validate(fields)


async def converse(
    client: Client, config: ThreadConfig, worker: subprocess.Popen[bytes], args: argparse.Namespace
) -> list[dict[str, Any]]:
    """Send the messages one after another; what each cost."""
    samples: list[dict[str, Any]] = []
    executions: dict[str, int] = {}
    last_events: dict[str, int] = {}
    cpu = cpu_seconds(worker.pid)
    for number in range(1, args.messages + 1):
        tool = number % args.tool_every == 0
        text = TOOL_MESSAGE if tool else f"Say hello to Ada, message {number}"
        began = time.perf_counter()
        result = await send_message(client, QUEUE, config, text)
        seconds = time.perf_counter() - began
        assert result.status == "completed", (number, result.status, result.last_error)
        child = await client.get_workflow_handle(
            f"{thread_workflow_id(config.key)}/run-{number}"
        ).describe()
        execution = child.parent_run_id or ""
        thread = await client.get_workflow_handle(
            thread_workflow_id(config.key), run_id=execution
        ).describe()
        executions.setdefault(execution, len(executions) + 1)
        events = thread.history_length
        samples.append(
            {
                "message": number,
                "tool": tool,
                "seconds": seconds,
                "execution": executions[execution],
                "thread_events": events,
                "thread_events_added": events - last_events.get(execution, 0),
                "run_events": child.history_length,
                "rss_mib": rss_mib(worker.pid),
                "cpu_ms": (cpu_seconds(worker.pid) - cpu) * 1000,
            }
        )
        cpu = cpu_seconds(worker.pid)
        last_events[execution] = events
        if number % 100 == 0:
            print(f"message {number}: {seconds * 1000:.0f} ms", file=sys.stderr, flush=True)
    return samples


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def window(samples: list[dict[str, Any]], key: str, last: bool, tool: bool | None = None) -> float:
    size = window_size(samples)
    chosen = samples[-size:] if last else samples[1 : size + 1]  # the first: a cold worker
    values = [s[key] for s in chosen if tool is None or s["tool"] == tool]
    if key == "cpu_ms":  # counted in clock ticks of 10 ms: a median would be one tick or another
        return statistics.fmean(values)
    return float(statistics.median(values))


def window_size(samples: list[dict[str, Any]]) -> int:
    """WINDOW messages, fewer in a short run (a third of it); the first window starts at
    message 2, since the first one also pays for the worker's warm-up (its sandbox)."""
    return min(WINDOW, len(samples) // 3)


def summary(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """The first WINDOW messages against the last WINDOW, side by side."""
    rows: dict[str, Any] = {}
    for name, key, tool in (
        ("latency, plain message (ms)", "seconds", False),
        ("latency, message with a tool (ms)", "seconds", True),
        ("worker CPU per message (ms, mean)", "cpu_ms", None),
        ("thread events added per message", "thread_events_added", None),
        ("child run events, plain message", "run_events", False),
        ("child run events, message with a tool", "run_events", True),
    ):
        first, last = window(samples, key, False, tool), window(samples, key, True, tool)
        scale = 1000 if key == "seconds" else 1
        rows[name] = {"first": first * scale, "last": last * scale, "ratio": last / first}
    size = window_size(samples)
    at = samples[size - 1]["rss_mib"]
    end = samples[-1]["rss_mib"]
    rows[f"worker RSS (MiB), at message {size} vs the end"] = {
        "first": at,
        "last": end,
        "ratio": end / at,
    }
    settled = samples[len(samples) // 5 :]  # after the worker's warm-up
    slope = statistics.linear_regression(
        [s["message"] for s in settled], [s["rss_mib"] for s in settled]
    ).slope
    per_execution: dict[int, int] = {}
    for sample in samples:
        execution = sample["execution"]
        per_execution[execution] = max(per_execution.get(execution, 0), sample["thread_events"])
    return {
        "window": size,
        "rows": rows,
        "max_events_per_execution": max(per_execution.values()),
        "executions": len(per_execution),
        "rss_mib_per_1000_messages": slope * 1000,
        "rss_slope_from": settled[0]["message"],
        "wall_seconds": sum(s["seconds"] for s in samples),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    emulator = start_emulator(port, args.in_progress, queued=args.queued)
    base = f"http://127.0.0.1:{port}/v1"
    env = await local_test_environment()
    address = env.client.service_client.config.target_host
    worker = spawn_worker(
        {
            "PATH": os.environ["PATH"],
            "TEMPORAL_ADDRESS": address,
            "TEMPORAL_TASK_QUEUE": QUEUE,
            "OPENAI_BASE_URL": base,
            "OPENAI_API_KEY": KEY,
            "OPENAI_BACKEND": args.backend,
            "TOOLS_MODULES": TOOLS,
            "LOG_LEVEL": "WARNING",
        }
    )
    try:
        async with AsyncOpenAI(base_url=base, api_key=KEY, max_retries=0) as openai:
            config = await thread_config(openai, args.backend, args)
        started = time.perf_counter()
        samples = await converse(env.client, config, worker, args)
        return {
            "messages": args.messages,
            "backend": args.backend,
            "tool_every": args.tool_every,
            "runs_before_continue_as_new": args.runs_before_continue_as_new,
            "timings": {"queued": args.queued, "in_progress": args.in_progress},
            "elapsed_seconds": time.perf_counter() - started,
            "summary": summary(samples),
            "samples": samples,
        }
    finally:
        worker.kill()
        worker.wait()
        emulator.kill()
        await env.shutdown()


def markdown(results: dict[str, Any]) -> str:
    found = results["summary"]
    lines = [
        f"| per message ({results['messages']} messages, {results['backend']} backend) "
        f"| messages 2-{found['window'] + 1} (median) | last {found['window']} (median) "
        "| last / first | target |",
        "|---|---|---|---|---|",
    ]
    for name, row in found["rows"].items():
        lines.append(
            f"| {name} | {row['first']:.0f} | {row['last']:.0f} | {row['ratio']:.2f} | ~1.0 |"
        )
    lines += [
        "",
        f"{found['executions']} executions (continue-as-new every "
        f"{results['runs_before_continue_as_new']} runs), at most "
        f"{found['max_events_per_execution']} history events in one; every "
        f"{results['tool_every']}th message calls a tool; worker RSS from message "
        f"{found['rss_slope_from']} on: {found['rss_mib_per_1000_messages']:+.1f} MiB per "
        "1,000 messages (least squares); emulator queued "
        f"{results['timings']['queued']} s, {results['timings']['in_progress']} s per phase; "
        f"{results['elapsed_seconds']:.0f} s in all.",
    ]
    return "\n".join(lines) + "\n"


def chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = results["samples"]
    numbers = [s["message"] for s in samples]
    figure, (latency, events, rss) = plt.subplots(3, 1, figsize=(7, 8), sharex=True)
    for tool, label in ((False, "plain message"), (True, "message with a tool")):
        chosen = [s for s in samples if s["tool"] == tool]
        latency.plot(
            [s["message"] for s in chosen],
            [s["seconds"] * 1000 for s in chosen],
            ".",
            markersize=2,
            label=label,
        )
    typical = statistics.median(s["seconds"] * 1000 for s in samples)
    latency.set_ylim(0, 3 * typical)  # the first message (a cold worker) is off the scale
    latency.set_ylabel("latency (ms)")
    latency.legend(fontsize="small")
    events.plot(numbers, [s["thread_events"] for s in samples], label="thread execution, so far")
    events.plot(numbers, [s["run_events"] for s in samples], ".", markersize=2, label="child run")
    events.set_ylabel("history events")
    events.legend(fontsize="small")
    rss.plot(numbers, [s["rss_mib"] for s in samples])
    rss.set_ylabel("worker RSS (MiB)")
    rss.set_xlabel("message number")
    for axis in (latency, events, rss):
        axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--messages",
        type=int,
        default=1000,
        help="1000 take about 7.5 minutes on 2 cores (about 0.4 s a message, of which 0.07 s "
        "is the emulator's model time)",
    )
    parser.add_argument("--tool-every", type=int, default=5)
    parser.add_argument("--backend", choices=["responses", "assistants"], default="responses")
    parser.add_argument("--runs-before-continue-as-new", type=int, default=200)
    parser.add_argument("--queued", type=float, default=0.02)
    parser.add_argument("--in-progress", type=float, default=0.05)
    parser.add_argument("--quick", action="store_true", help="a smoke run of 60 messages")
    args = parser.parse_args()
    if args.quick:
        args.messages, args.runs_before_continue_as_new = 60, 20
    return args


if __name__ == "__main__":
    arguments = parse()
    outcome = asyncio.run(main(arguments))
    RESULTS.mkdir(exist_ok=True)
    suffix = "-quick" if arguments.quick else ""
    (RESULTS / f"conversation{suffix}.json").write_text(json.dumps(outcome, indent=2))
    (RESULTS / f"conversation{suffix}.md").write_text(markdown(outcome))
    chart(outcome, RESULTS / f"conversation{suffix}.png")
    print(markdown(outcome))
    sys.stdout.flush()
    os._exit(0)  # temporalio may abort the interpreter at exit (see workers/cli.py)
