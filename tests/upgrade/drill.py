"""The upgrade drill (`make upgrade-drill`): roll a new worker version out under live work.

A v1 worker (Worker Deployment versioning, current) drives runs in the middle of their tool
rounds and conversations that have answered a message. A v2 worker (tests/upgrade/v2.py:
each workflow with a patched branch, `run.start` returning a field v1 does not know) starts
and becomes current; the conversations get their next message and new runs start; v1 drains
and stops. Every run must complete on the version it started on, every conversation continue
on v2, with no failed workflow task and no non-determinism. Prints a table (kept in
tests/upgrade/results.md) and exits non-zero on any failure.

    python -m tests.upgrade.drill [--runs 20] [--conversations 10] [--results FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openai import AsyncOpenAI
from pydantic import SecretStr
from temporalio.api.enums.v1 import EventType
from temporalio.api.workflowservice.v1 import SetWorkerDeploymentCurrentVersionRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from emulator.config import EmulatorConfig, Timings
from emulator.server import BackgroundEmulator
from tests.upgrade.newer_activities import with_v2_start
from tests.upgrade.v2 import AssistantRunV2, AssistantThreadV2
from workers.client import send_message, start_run, thread_workflow_id
from workers.settings import Settings, load_settings
from workers.temporal_server import local_test_environment
from workers.wiring import project_activities, project_tools
from workers.worker import WORKFLOWS, build_worker
from workflows.common import TERMINAL_PHASES as TERMINAL
from workflows.contracts import RunRequest, ThreadConfig
from workflows.run.workflow import AssistantRun
from workflows.thread.workflow import AssistantThread

RESULTS = Path(__file__).with_name("results.md")
QUEUE = "upgrade-drill"
DEPLOYMENT = "durable-assistants-drill"
KEY = "sk-drill"
QUESTION = "What is the weather in City{n}? then calculate {n} * 2"
TOOLS = "activities.example_tools"
V1_ONLY = (AssistantRun, AssistantThread)


@dataclass
class Outcome:
    what: str
    count: int
    in_flight_at_switch: int
    completed: int
    on_expected_version: int
    failed_workflow_tasks: int

    @property
    def ok(self) -> bool:
        everything = self.completed == self.on_expected_version == self.count
        return everything and self.failed_workflow_tasks == 0


def versioned(settings: Settings, build_id: str) -> Settings:
    return settings.model_copy(
        update={"worker_deployment_name": DEPLOYMENT, "worker_build_id": build_id}
    )


async def make_current(client: Client, build_id: str, deployment: str = DEPLOYMENT) -> None:
    """Make a version current once its worker has polled (the server knows it then)."""
    request = SetWorkerDeploymentCurrentVersionRequest(
        namespace=client.namespace, deployment_name=deployment, build_id=build_id
    )
    for _ in range(200):
        try:
            await client.workflow_service.set_worker_deployment_current_version(request)
            return
        except RPCError:  # not registered until its worker has polled
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{build_id} never became current")


async def version_of(handle: WorkflowHandle[Any, Any]) -> str:
    info = (await handle.describe()).raw_description.workflow_execution_info
    return str(info.versioning_info.deployment_version.build_id)


async def failed_workflow_tasks(handle: WorkflowHandle[Any, Any]) -> int:
    failed = EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
    return sum([e.event_type == failed async for e in handle.fetch_history_events()])


async def judge(
    what: str,
    handles: list[WorkflowHandle[Any, Any]],
    statuses: list[str],
    expected: str,
    in_flight: int,
) -> Outcome:
    """`statuses`: how each run (each conversation's last answer) ended."""
    versions = [await version_of(handle) for handle in handles]
    failures = sum([await failed_workflow_tasks(handle) for handle in handles])
    completed = statuses.count("completed")
    return Outcome(what, len(handles), in_flight, completed, versions.count(expected), failures)


async def until_mid_tool_round(handles: list[WorkflowHandle[Any, Any]]) -> None:
    for handle in handles:
        for _ in range(600):
            state = await handle.query(AssistantRun.state)
            if state.tool_calls or state.phase in ("running_tools", "submitting_outputs"):
                break
            await asyncio.sleep(0.05)


def run_request(assistant_id: str, n: int, thinking: float = 0.5) -> RunRequest:
    text = QUESTION.format(n=n) + f" [[emulator in_progress={thinking}]]"
    return RunRequest.model_validate(
        {"assistant_id": assistant_id, "backend": "assistants", "messages": [{"content": text}]}
    )


async def drill(
    client: Client, settings: Settings, assistant_id: str, runs: int, talks: int
) -> list[Outcome]:
    conversations = [
        ThreadConfig(
            key=f"drill-{n}-{uuid.uuid4().hex[:6]}", assistant_id=assistant_id, backend="assistants"
        )
        for n in range(talks)
    ]
    v1 = build_worker(client, versioned(settings, "v1"), task_queue=QUEUE)
    serving_v1 = asyncio.create_task(v1.run())
    await make_current(client, "v1")
    for config in conversations:
        await send_message(client, QUEUE, config, "Hello")
    old_runs = [
        await start_run(client, QUEUE, run_request(assistant_id, n, thinking=3))
        for n in range(runs)
    ]
    await until_mid_tool_round(old_runs)

    v2 = build_worker(
        client,
        versioned(settings, "v2"),
        workflows=[AssistantRunV2, AssistantThreadV2, *(w for w in WORKFLOWS if w not in V1_ONLY)],
        activities=with_v2_start(project_activities(settings, QUEUE, client)),
        task_queue=QUEUE,
    )
    serving_v2 = asyncio.create_task(v2.run())
    await make_current(client, "v2")
    busy = sum([(await h.query(AssistantRun.state)).phase not in TERMINAL for h in old_runs])
    answers = await asyncio.gather(
        *(send_message(client, QUEUE, c, "What is the weather in Oslo?") for c in conversations)
    )
    new_runs = [await start_run(client, QUEUE, run_request(assistant_id, n)) for n in range(runs)]
    old_results = await asyncio.gather(*(handle.result() for handle in old_runs))
    await v1.shutdown()  # drained: every run pinned to v1 has ended
    await serving_v1
    new_results = await asyncio.gather(*(handle.result() for handle in new_runs))
    threads = [client.get_workflow_handle(thread_workflow_id(c.key)) for c in conversations]
    outcomes = [
        await judge("runs started on v1", old_runs, [r.status for r in old_results], "v1", busy),
        await judge("runs started on v2", new_runs, [r.status for r in new_results], "v2", 0),
        await judge("conversations", threads, [a.status for a in answers], "v2", len(threads)),
    ]
    await v2.shutdown()
    await serving_v2
    return outcomes


def table(outcomes: list[Outcome]) -> str:
    lines = [
        "| workflows | count | in flight when v2 became current | completed "
        "| on the expected version | failed workflow tasks |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {o.what} | {o.count} | {o.in_flight_at_switch} | {o.completed} | "
        f"{o.on_expected_version} | "
        f"{o.failed_workflow_tasks} |"
        for o in outcomes
    ]
    return "\n".join(lines) + "\n"


async def main(runs: int, talks: int) -> list[Outcome]:
    env = await local_test_environment()
    timings = Timings(queued=0.05, in_progress=0.5)
    with BackgroundEmulator(EmulatorConfig(timings=timings)) as api:
        settings = load_settings(
            temporal_task_queue=QUEUE,
            openai_base_url=api.base_url,
            openai_api_key=SecretStr(KEY),
            graceful_shutdown_seconds=5,
            openai_backend="assistants",
            tools_modules=TOOLS,
        )
        tools = project_tools(settings).definitions("assistants")
        async with AsyncOpenAI(base_url=api.base_url, api_key=KEY) as openai:
            assistant = await openai.beta.assistants.create(model="gpt-4o", tools=tools)  # type: ignore[arg-type]
        outcomes = await drill(env.client, settings, assistant.id, runs, talks)
    await env.shutdown()
    return outcomes


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--conversations", type=int, default=10)
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the table goes")
    arguments = parser.parse_args()
    outcomes = asyncio.run(main(arguments.runs, arguments.conversations))
    report = table(outcomes)
    arguments.results.write_text(report)
    print(report)
    sys.stdout.flush()
    os._exit(0 if all(o.ok for o in outcomes) else 1)
