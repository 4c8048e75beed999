"""Tools as real activities on real workers: parallel calls, retries, timeouts, error outputs,
external tools answered by an Update, and a tool served by a second worker on its own queue."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.worker import Worker

from activities.tools import ToolActivities, ToolRegistry, current_call
from tests.integration.tool_round import ToolRound
from workflows.contracts import (
    SubmitToolOutputsRequest,
    ToolCall,
    ToolCallResult,
    ToolOutputSubmission,
    ToolRetry,
)

FAST_RETRY = ToolRetry(max_attempts=3, initial_interval_seconds=0.05, maximum_interval_seconds=0.1)
PARALLEL = 3
OTHER_QUEUE = f"test-tools-other-{os.getpid()}"

tools = ToolRegistry()
executions: dict[str, int] = {}
barrier = asyncio.Barrier(PARALLEL)


@tools.tool
async def rendezvous(n: int) -> str:
    """Returns only once all PARALLEL calls are running at the same time."""
    await asyncio.wait_for(barrier.wait(), timeout=5)
    return f"met {n}"


@tools.tool(retry=FAST_RETRY)
def flaky(key: str) -> str:
    executions[key] = executions.get(key, 0) + 1
    if executions[key] < 3:
        raise ConnectionError(f"transient failure {executions[key]}")
    return f"ok after {executions[key]} ({current_call().idempotency_key})"


@tools.tool(retry=FAST_RETRY)
def broken() -> str:
    raise ValueError("disk on fire")


@tools.tool(timeout=timedelta(seconds=0.3), retry=ToolRetry(max_attempts=1))
async def sleepy() -> str:
    await asyncio.sleep(5)
    return "never"


@tools.tool(task_queue=OTHER_QUEUE)
def where() -> str:
    return activity.info().task_queue


@tools.tool(external=True, external_timeout=timedelta(seconds=1))
def approve(amount: int) -> str:
    """Answered by a person through the submit_tool_outputs update."""
    raise AssertionError("external tools never run on the worker")


def call(name: str, arguments: object = None, call_id: str | None = None) -> ToolCall:
    return ToolCall(
        id=call_id or f"call_{uuid.uuid4().hex[:8]}",
        name=name,
        arguments=arguments if isinstance(arguments, str) else json.dumps(arguments or {}),
    )


@pytest.fixture
async def workers(client: Client, task_queue: str) -> AsyncIterator[str]:
    """A worker on `task_queue` and a second one serving only the `where` tool's queue."""
    activities = ToolActivities(tools, max_output_chars=1000)
    main = Worker(
        client,
        task_queue=task_queue,
        workflows=[ToolRound],
        activities=activities.activities(task_queue, task_queue),
    )
    other = Worker(
        client, task_queue=OTHER_QUEUE, activities=activities.activities(OTHER_QUEUE, task_queue)
    )
    async with main, other:
        yield OTHER_QUEUE


async def run_round(client: Client, task_queue: str, calls: list[ToolCall]) -> list[ToolCallResult]:
    return await client.execute_workflow(
        ToolRound.run, calls, id=f"tools-{uuid.uuid4()}", task_queue=task_queue
    )


def error_type(result: ToolCallResult) -> str:
    error: str = json.loads(result.output)["error"]["type"]
    assert result.error == error
    return error


async def test_parallel_calls_run_at_the_same_time(
    client: Client, task_queue: str, workers: str
) -> None:
    calls = [call("rendezvous", {"n": n}) for n in range(PARALLEL)]
    results = await run_round(client, task_queue, calls)
    assert [r.output for r in results] == [f"met {n}" for n in range(PARALLEL)]
    assert [r.id for r in results] == [c.id for c in calls]


async def test_transient_failures_are_retried_with_one_idempotency_key(
    client: Client, task_queue: str, workers: str
) -> None:
    key = uuid.uuid4().hex
    workflow_id = f"tools-{key}"
    [result] = await client.execute_workflow(
        ToolRound.run,
        [call("flaky", {"key": key}, call_id="call_flaky")],
        id=workflow_id,
        task_queue=task_queue,
    )
    assert result.output == f"ok after 3 ({workflow_id}:call_flaky)"
    assert (result.error, result.attempts) == (None, 3)


async def test_failures_become_error_outputs_not_failed_workflows(
    client: Client, task_queue: str, workers: str
) -> None:
    results = await run_round(
        client,
        task_queue,
        [
            call("broken"),
            call("sleepy"),
            call("no_such_tool"),
            call("flaky", "{not json"),
            call("flaky", {"key": 3}),
        ],
    )
    assert [error_type(r) for r in results] == [
        "tool_failed",
        "tool_timeout",
        "unknown_tool",
        "invalid_json",
        "invalid_arguments",
    ]
    assert "disk on fire" in results[0].output
    assert results[0].attempts == 3
    assert "rendezvous" in results[2].output  # the model learns which tools exist
    assert json.loads(results[4].output)["error"]["field"] == "key"


async def test_a_tool_on_its_own_task_queue_runs_on_the_worker_serving_it(
    client: Client, task_queue: str, workers: str
) -> None:
    [result] = await run_round(client, task_queue, [call("where")])
    assert result.output == workers


async def wait_for_pending(handle: WorkflowHandle[ToolRound, list[ToolCallResult]]) -> list[str]:
    for _ in range(100):
        pending = await handle.query(ToolRound.pending)
        if pending:
            return pending
        await asyncio.sleep(0.05)
    raise AssertionError("the external call never became pending")


async def test_external_tools_wait_for_the_update(
    client: Client, task_queue: str, workers: str
) -> None:
    handle = await client.start_workflow(
        ToolRound.run,
        [call("approve", {"amount": 5}, call_id="call_ext")],
        id=f"tools-{uuid.uuid4()}",
        task_queue=task_queue,
    )
    assert await wait_for_pending(handle) == ["call_ext"]
    wrong = SubmitToolOutputsRequest(
        tool_outputs=[ToolOutputSubmission(tool_call_id="call_other", output="x")]
    )
    with pytest.raises(WorkflowUpdateFailedError) as rejected:
        await handle.execute_update(ToolRound.submit_tool_outputs, wrong)
    assert "call_other" in str(rejected.value.cause)
    right = SubmitToolOutputsRequest(
        tool_outputs=[ToolOutputSubmission(tool_call_id="call_ext", output="approved")]
    )
    await handle.execute_update(ToolRound.submit_tool_outputs, right)
    [result] = await handle.result()
    assert (result.output, result.error) == ("approved", None)


async def test_external_tools_time_out_into_an_error_output(
    client: Client, task_queue: str, workers: str
) -> None:
    [result] = await run_round(client, task_queue, [call("approve", {"amount": 5})])
    assert error_type(result) == "external_timeout"
