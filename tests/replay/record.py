"""Record the histories the replay tests check: `python -m tests.replay.record`.

Runs each scenario on a fresh dev server against the emulator and writes its history to
tests/replay/histories/<scenario>.json. Re-record only when a workflow change is meant to be
incompatible (and version it): the point of these files is that old histories still replay.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from openai import AsyncOpenAI
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from emulator.config import EmulatorConfig, Timings
from emulator.server import BackgroundEmulator
from workers.client import RunHandle, start_run
from workers.settings import load_settings
from workers.temporal_server import temporal_binary
from workers.worker import build_worker, project_tools
from workflows import search_attributes
from workflows.contracts import CancelRequest, RunPhase, RunRequest
from workflows.run.workflow import AssistantRun

HISTORIES = Path(__file__).with_name("histories")
QUEUE = "replay-recording"
KEY = "sk-record"
SCENARIOS: dict[str, dict[str, object]] = {
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
}


async def record(client: Client, assistant_id: str, name: str, fields: dict[str, object]) -> None:
    request = RunRequest.model_validate({"assistant_id": assistant_id, **fields})
    handle = await start_run(client, QUEUE, request, workflow_id=f"replay-{name}")
    if name == "cancelled_during_tools":
        await until(handle, RunPhase.running_tools)
        await handle.execute_update(AssistantRun.cancel, CancelRequest(reason="recorded"))
    await handle.result()
    history = await handle.fetch_history()
    (HISTORIES / f"{name}.json").write_text(history.to_json())
    print(f"recorded {name}: {len(history.events)} events")


async def until(handle: RunHandle, phase: RunPhase) -> None:
    for _ in range(400):
        if (await handle.query(AssistantRun.state)).phase == phase:
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"the run never reached {phase}")


async def main() -> None:
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=str(temporal_binary()),
        search_attributes=search_attributes.ALL,
    )
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
        async with build_worker(env.client, settings):
            for name, fields in SCENARIOS.items():
                await record(env.client, assistant.id, name, fields)
    await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
    sys.stdout.flush()
    os._exit(0)
