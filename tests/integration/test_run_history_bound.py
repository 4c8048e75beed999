"""A run's history is bounded whatever its length: between two rounds of tool calls, once
Temporal suggests it, the run continues as new, carrying the run it waits on, what it has
come to, its deadline and its progress log; followers read on across executions with every
event once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from temporalio.client import Client

from tests.integration.conftest import Assistant, Seen, ask, both_backends, start
from workers.client import follow
from workers.settings import Settings
from workers.temporal_server import local_test_environment
from workers.worker import build_worker
from workflows.contracts import CancelRequest, RunTimeouts
from workflows.run.progress import ProgressEvent
from workflows.run.workflow import AssistantRun

SUGGESTED_AT = 80
CITIES = ["Paris", "Rome", "Oslo", "Lima", "Cairo", "Delhi", "Tokyo", "Quito"]
QUICK = RunTimeouts(heartbeat_seconds=2, api_initial_retry_seconds=0.05)


def rounds(count: int, tool: str = "weather in {city}") -> str:
    return " then ".join(tool.format(city=CITIES[n % len(CITIES)]) for n in range(count))


@pytest.fixture(scope="module")
async def short_histories() -> AsyncIterator[Client]:
    """A Temporal server that suggests continuing as new past 80 events (its default: 4,096)."""
    config = {"limit.historyCount.suggestContinueAsNew": str(SUGGESTED_AT)}
    env = await local_test_environment(dynamic_config=config)
    yield env.client
    await env.shutdown()


async def executions(client: Client, workflow_id: str) -> list[int]:
    """The history length of each execution of the workflow, oldest first."""
    lengths = []
    async for execution in client.list_workflows(f'WorkflowId = "{workflow_id}"'):
        history = await client.get_workflow_handle(
            workflow_id, run_id=execution.run_id
        ).fetch_history()
        lengths.append((execution.start_time, len(history.events)))
    return [length for _, length in sorted(lengths)]


@both_backends
async def test_a_run_of_many_rounds_continues_as_new_and_followers_read_on(
    short_histories: Client, task_queue: str, settings: Settings, assistant: Assistant, seen: Seen
) -> None:
    client = short_histories
    async with build_worker(client, settings):
        handle = await start(client, task_queue, ask(assistant, rounds(24), timeouts=QUICK))
        events: list[ProgressEvent] = [e async for e in follow(client, handle.id)]
        result = await handle.result()
    assert result.status == "completed", result
    assert (result.tool_rounds, len(result.tool_calls)) == (24, 24)
    assert seen.rounds_submitted(handle.id) == 24  # once each, across executions
    lengths = await executions(client, handle.id)
    assert len(lengths) >= 3, lengths
    assert max(lengths) <= SUGGESTED_AT + 40, lengths  # at most a round past the suggestion
    assert [e.offset for e in events] == list(range(len(events)))
    assert [e.type for e in events].count("tool.started") == 24
    assert events[-1].type == "run.ended"


async def test_a_deadline_counts_from_the_runs_first_execution(
    short_histories: Client, task_queue: str, settings: Settings, assistant: Assistant
) -> None:
    client = short_histories
    slow = rounds(40, 'call slow_lookup with {{"seconds": 0.3}}')
    async with build_worker(client, settings):
        handle = await start(client, task_queue, ask(assistant, slow, deadline_seconds=4))
        result = await asyncio.wait_for(handle.result(), 60)
    assert result.status == "expired", result
    assert len(await executions(client, handle.id)) >= 2


async def test_a_cancel_after_the_run_continued_as_new_cancels_it(
    short_histories: Client, task_queue: str, settings: Settings, assistant: Assistant
) -> None:
    client = short_histories
    slow = rounds(40, 'call slow_lookup with {{"seconds": 0.2}}')
    async with build_worker(client, settings):
        handle = await start(client, task_queue, ask(assistant, slow))
        for _ in range(400):
            if len(await executions(client, handle.id)) >= 2:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the run never continued as new")
        state = await handle.execute_update(AssistantRun.cancel, CancelRequest(reason="enough"))
        result = await handle.result()
    assert (state.phase, result.status) == ("cancelled", "cancelled")
    assert 0 < result.tool_rounds < 40
