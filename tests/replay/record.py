"""Record the histories the replay tests check: `make record-histories`.

Runs each scenario of every workflow type on a fresh dev server against the emulator and
writes the histories of its executions to tests/replay/histories/<scenario>[-N].json,
skipping scenarios already recorded: the point of these files is that histories of older code
still replay. Record new scenarios when a workflow changes (after adding its
`workflow.patched` branch, so both sides stay covered); overwrite one (`--force NAME`) only
when a change is meant to be incompatible.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from openai import AsyncOpenAI
from pydantic import SecretStr
from temporalio.client import Client

from emulator.config import EmulatorConfig, Timings
from emulator.server import BackgroundEmulator
from workers.client import RunHandle, post_message, send_message, start_run, thread_workflow_id
from workers.settings import load_settings
from workers.temporal_server import local_test_environment
from workers.wiring import project_tools
from workers.worker import build_worker
from workflows.cleanup.workflow import Cleanup
from workflows.contracts import CancelRequest, CleanupPolicy, RunPhase, RunRequest, ThreadConfig
from workflows.ingest.contracts import IngestRequest
from workflows.ingest.workflow import VectorStoreIngest
from workflows.pacing import SPENT_SIGNAL, TokensSpent, TokenWindow, TokenWindowInput
from workflows.run.workflow import AssistantRun

HISTORIES = Path(__file__).with_name("histories")
SHORT_HISTORIES = {"limit.historyCount.suggestContinueAsNew": "80"}
"""The recording server suggests continuing as new past 80 events (Temporal's default: 4,096),
so a run of a dozen rounds is recorded across executions; shorter scenarios are not touched."""
WORKFLOW_IDS = HISTORIES / "workflow_ids.json"
QUEUE = "replay-recording"
KEY = "sk-record"
Scenario = Callable[["Stack"], Awaitable[str]]
"""Runs one scenario; returns the workflow id whose executions to keep."""


@dataclass(frozen=True)
class Stack:
    client: Client
    openai: AsyncOpenAI
    assistant_id: str


HISTORY_COSTS: dict[str, dict[str, object]] = {
    "plain": {"messages": [{"content": "Say hello to Ada"}], "stream": False},
    "one_round": {"messages": [{"content": "What is the weather in Paris?"}], "stream": False},
    "three_rounds": {
        "messages": [
            {
                "content": "What is the weather in Paris, then calculate 2 * 21, "
                "then check the status of order A-1001"
            }
        ],
        "stream": False,
    },
}
"""The runs whose history events `tests/replay/test_history_costs.py` pins (responses runs
get `RESPONSES_ASSISTANT`)."""
RESPONSES_ASSISTANT = {
    "name": "replay",
    "model": "gpt-4o",
    "tools": ["get_weather", "calculate", "get_order_status"],
}
SLOW = "[[emulator delta_interval=0.05]]"
ANSWER_OF_60_WORDS = " ".join(f"word{n}" for n in range(60))
RUNS: dict[str, dict[str, object]] = {
    "plain": {"messages": [{"content": "Say hello to Ada"}]},
    "parallel_tools": {"messages": [{"content": "What is the weather in Paris and London?"}]},
    "tool_rounds_with_errors": {
        "messages": [
            {
                "content": (
                    "Check the status of order A-1001, then call no_such_tool with {} "
                    "then calculate (2 + 3) * 4"
                )
            }
        ]
    },
    "failed_then_retried": {
        "messages": [{"content": "Hi [[emulator fail=server_error*1]]"}],
        "max_run_attempts": 2,
    },
    "deadline": {"messages": [{"content": "Hi [[emulator queued=30]]"}], "deadline_seconds": 1},
    "cancelled_during_tools": {"messages": [{"content": 'call slow_lookup with {"seconds": 20}'}]},
    "responses_tool_rounds": {
        "backend": "responses",
        "assistant": {"name": "replay", "model": "gpt-4o", "tools": ["get_weather", "calculate"]},
        "messages": [{"content": "What is the weather in Rome? then calculate 6 * 7"}],
    },
    "streamed_answer": {"messages": [{"content": f"{SLOW} {ANSWER_OF_60_WORDS}"}]},
    "responses_streamed_after_tools": {
        "backend": "responses",
        "assistant": {"name": "replay", "model": "gpt-4o", "tools": ["get_weather"]},
        "messages": [{"content": f"{SLOW} What is the weather in Rome and Oslo and Lima?"}],
    },
    "max_tool_rounds_reached": {
        "messages": [{"content": "weather in Paris then weather in London"}],
        "max_tool_rounds": 1,
    },
    "token_budget_spent_by_a_failed_attempt": {
        "messages": [
            {"content": "weather in Oslo then weather in Rome [[emulator fail=server_error*1]]"}
        ],
        "max_run_attempts": 2,
        "max_total_tokens": 1,
    },
    "responses_token_budget": {
        "backend": "responses",
        "assistant": {"name": "replay", "model": "gpt-4o", "tools": ["get_weather", "calculate"]},
        "messages": [{"content": "What is the weather in Rome? then calculate 6 * 7"}],
        "max_total_tokens": 1,
    },
    "fallback_model": {
        "messages": [{"content": "Hi [[emulator fail_model=gpt-4o]]"}],
        "fallback_models": ["gpt-4o-mini"],
    },
    "responses_continued_between_rounds": {
        "backend": "responses",
        "assistant": {"name": "replay", "model": "gpt-4o", "tools": ["get_weather"]},
        "messages": [
            {"content": " then ".join(f"weather in {c}" for c in ["Oslo", "Rome", "Lima"] * 4)}
        ],
    },
    **{
        f"history_{backend}_{scenario}": {"backend": backend, **fields}
        for backend in ("responses", "assistants")
        for scenario, fields in HISTORY_COSTS.items()
    },
}


def run_scenario(name: str, fields: dict[str, object]) -> Scenario:
    """An AssistantRun; on the assistants backend unless `fields` name another."""

    async def scenario(stack: Stack) -> str:
        target: dict[str, object] = {"assistant_id": stack.assistant_id}
        if "assistant" in fields:
            target = {}
        elif fields.get("backend") == "responses":
            target = {"assistant": RESPONSES_ASSISTANT}
        request = RunRequest.model_validate({"backend": "assistants", **target, **fields})
        handle = await start_run(stack.client, QUEUE, request, workflow_id=f"replay-{name}")
        if name == "cancelled_during_tools":
            await until(handle, RunPhase.running_tools)
            await handle.execute_update(AssistantRun.cancel, CancelRequest(reason="recorded"))
        await handle.result()
        return handle.id

    return scenario


async def thread_continued_then_idle(stack: Stack) -> str:
    """A conversation that continues as new after each run, then closes when idle."""
    client = stack.client
    config = ThreadConfig(
        key=f"replay-{uuid.uuid4().hex[:8]}",
        assistant_id=stack.assistant_id,
        backend="assistants",
        runs_before_continue_as_new=1,
        idle_timeout_seconds=1,
    )
    await send_message(client, QUEUE, config, "My name is Ada")
    await send_message(client, QUEUE, config, "What is the weather in Oslo?")
    await client.get_workflow_handle(thread_workflow_id(config.key)).result()
    return thread_workflow_id(config.key)


async def responses_thread_searched_by_root(stack: Stack) -> str:
    """A conversation on responses: two messages (the second with a tool round), continuing
    as new after each run, then closing when idle (OpenAIThreadId: its first response)."""
    client = stack.client
    config = ThreadConfig(
        key=f"replay-{uuid.uuid4().hex[:8]}",
        assistant=RESPONSES_ASSISTANT,
        backend="responses",
        runs_before_continue_as_new=1,
        idle_timeout_seconds=1,
    )
    await send_message(client, QUEUE, config, "My name is Ada")
    await send_message(client, QUEUE, config, "What is the weather in Oslo?")
    await client.get_workflow_handle(thread_workflow_id(config.key)).result()
    return thread_workflow_id(config.key)


async def thread_token_budget_used_up(stack: Stack) -> str:
    """A conversation whose one message uses its budget: it continues as new, drops the
    message posted next, then closes when idle."""
    client = stack.client
    config = ThreadConfig(
        key=f"replay-{uuid.uuid4().hex[:8]}",
        assistant_id=stack.assistant_id,
        backend="assistants",
        runs_before_continue_as_new=1,
        idle_timeout_seconds=1,
        token_budget=1,
    )
    await send_message(client, QUEUE, config, "Say hello to Ada")
    await post_message(client, QUEUE, config, "And to Bob")
    await client.get_workflow_handle(thread_workflow_id(config.key)).result()
    return thread_workflow_id(config.key)


async def cleanup_pages(stack: Stack) -> str:
    """A cleanup (dry run) of 150 files, continuing as new after each page of 100."""
    for n in range(150):
        await stack.openai.files.create(file=(f"old-{n}.md", b"old"), purpose="assistants")
    policy = CleanupPolicy(
        file_max_age_seconds=0, include_foreign=True, pages_per_execution=1, dry_run=True
    )
    workflow_id = f"replay-cleanup-{uuid.uuid4().hex[:8]}"
    await stack.client.execute_workflow(Cleanup.run, policy, id=workflow_id, task_queue=QUEUE)
    return workflow_id


async def ingest_in_parts(stack: Stack) -> str:
    """An ingest of 25 inline files in child workflows of 10 (the parent's history)."""
    files = [{"text": f"Note {n} {uuid.uuid4()}", "filename": f"note-{n}.txt"} for n in range(25)]
    request = IngestRequest.model_validate(
        {"vector_store": {"name": "replay-parts"}, "files": files, "files_per_child": 10}
    )
    workflow_id = f"replay-ingest-{uuid.uuid4().hex[:8]}"
    await stack.client.execute_workflow(
        VectorStoreIngest.run, request, id=workflow_id, task_queue=QUEUE
    )
    return workflow_id


async def ingest_part(stack: Stack) -> str:
    """The first child of `ingest_in_parts`."""
    return f"{await ingest_in_parts(stack)}/files-0"


async def token_window_rolled(stack: Stack) -> str:
    """A pacing window of 0.2 s: two signals in the first window, one after it rolled; then
    terminated (it only ends by continuing as new)."""
    workflow_id = f"replay-token-window-{uuid.uuid4().hex[:8]}"
    handle = await stack.client.start_workflow(
        TokenWindow.run,
        TokenWindowInput(window_seconds=0.2),
        id=workflow_id,
        task_queue=QUEUE,
        start_signal=SPENT_SIGNAL,
        start_signal_args=[TokensSpent(tokens=100)],
    )
    await handle.signal(SPENT_SIGNAL, TokensSpent(tokens=50))
    await asyncio.sleep(0.3)
    await handle.signal(SPENT_SIGNAL, TokensSpent(tokens=7))
    for _ in range(100):
        if (await handle.query(TokenWindow.state)).spent == 7:
            break
        await asyncio.sleep(0.05)
    else:
        raise RuntimeError("the window never rolled")
    await handle.terminate("recorded")
    return workflow_id


SCENARIOS: dict[str, Scenario] = {
    **{name: run_scenario(name, fields) for name, fields in RUNS.items()},
    "thread_continued_then_idle": thread_continued_then_idle,
    "thread_token_budget_used_up": thread_token_budget_used_up,
    "responses_thread_searched_by_root": responses_thread_searched_by_root,
    "cleanup_pages": cleanup_pages,
    "ingest_in_parts": ingest_in_parts,
    "ingest_part": ingest_part,
    "token_window_rolled": token_window_rolled,
}


async def record(stack: Stack, name: str) -> None:
    client = stack.client
    workflow_id = await SCENARIOS[name](stack)
    executions = await executions_of(client, workflow_id)
    for n, run_id in enumerate(executions):
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        suffix = f"-{n + 1}" if len(executions) > 1 else ""
        (HISTORIES / f"{name}{suffix}.json").write_text(history.to_json())
        remember_workflow_id(f"{name}{suffix}", workflow_id)
        print(f"recorded {name}{suffix}: {len(history.events)} events")


def remember_workflow_id(stem: str, workflow_id: str) -> None:
    """The workflow id a history replays under (workflows derive child ids from it)."""
    ids = json.loads(WORKFLOW_IDS.read_text()) if WORKFLOW_IDS.exists() else {}
    WORKFLOW_IDS.write_text(json.dumps({**ids, stem: workflow_id}, indent=2, sort_keys=True) + "\n")


async def executions_of(client: Client, workflow_id: str) -> list[str]:
    """Run ids of the workflow's executions, oldest first (visibility may lag a moment)."""
    for _ in range(100):
        listed = [e async for e in client.list_workflows(f'WorkflowId = "{workflow_id}"')]
        if listed and all(e.close_time for e in listed):
            return [e.run_id for e in sorted(listed, key=lambda e: e.start_time)]
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{workflow_id} is not listed as closed")


async def until(handle: RunHandle, phase: RunPhase) -> None:
    for _ in range(400):
        if (await handle.query(AssistantRun.state)).phase == phase:
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"the run never reached {phase}")


def recorded(name: str) -> bool:
    return any(HISTORIES.glob(f"{name}.json")) or any(HISTORIES.glob(f"{name}-*.json"))


async def main(force: list[str]) -> None:
    todo = [name for name in SCENARIOS if name in force or not recorded(name)]
    if not todo:
        print("every scenario is recorded (--force NAME records one again)")
        return
    env = await local_test_environment(dynamic_config=SHORT_HISTORIES)
    timings = Timings(queued=0.02, in_progress=0.05, cancelling=0.02)
    with BackgroundEmulator(EmulatorConfig(timings=timings)) as api:
        settings = load_settings(
            temporal_task_queue=QUEUE,
            openai_base_url=api.base_url,
            openai_api_key=SecretStr(KEY),
            graceful_shutdown_seconds=0.5,
            tools_modules="activities.example_tools,tests.integration.run_tools",
        )
        tools = project_tools(settings).definitions("assistants")
        async with AsyncOpenAI(base_url=api.base_url, api_key=KEY) as openai:
            assistant = await openai.beta.assistants.create(model="gpt-4o", tools=tools)  # type: ignore[arg-type]
            stack = Stack(env.client, openai, assistant.id)
            async with build_worker(env.client, settings):
                for name in todo:
                    await record(stack, name)
    await env.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--force", nargs="*", default=[], choices=list(SCENARIOS))
    asyncio.run(main(parser.parse_args().force))
    sys.stdout.flush()
    os._exit(0)
