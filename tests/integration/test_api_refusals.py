"""What the OpenAI API says about retrying is what a run does: an account out of quota fails
at once with OpenAI's words, `x-should-retry` is obeyed, and a `retry-after` no client could
wait out is capped instead of stalling (or crashing) the step."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest
from temporalio.client import Client, WorkflowFailureError

from activities.openai_errors import MAX_RETRY_AFTER
from emulator.config import FaultRule
from workflows.contracts import RunTimeouts

from .conftest import Assistant, Counters, ask, both_backends, start

QUICK = RunTimeouts(heartbeat_seconds=1, api_initial_retry_seconds=0.05, api_max_attempts=10)
START = r"^POST /v1/(responses|threads/[^/]+/runs)$"


@both_backends
async def test_an_account_out_of_quota_fails_the_run_at_once_with_openais_words(
    client: Client,
    task_queue: str,
    worker: None,
    assistant: Assistant,
    faults: Callable[..., None],
    counters: Counters,
) -> None:
    faults(FaultRule(status=429, quota=True, route=START))
    handle = await start(client, task_queue, ask(assistant, "Hello", timeouts=QUICK))
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    assert "You exceeded your current quota" in str(failed.value.cause)
    assert counters.delta("faults_injected", "429") == 1  # asked once, never again


@both_backends
async def test_x_should_retry_false_is_not_retried_and_true_is(
    client: Client,
    task_queue: str,
    worker: None,
    assistant: Assistant,
    faults: Callable[..., None],
    counters: Counters,
) -> None:
    faults(FaultRule(status=500, headers={"x-should-retry": "false"}, route=START))
    handle = await start(client, task_queue, ask(assistant, "Hello", timeouts=QUICK))
    with pytest.raises(WorkflowFailureError, match="Workflow execution failed"):
        await handle.result()
    assert counters.delta("faults_injected", "500") == 1
    faults(FaultRule(status=503, headers={"x-should-retry": "true"}, route=START, times=2))
    handle = await start(client, task_queue, ask(assistant, "Hello", timeouts=QUICK))
    assert (await handle.result()).status == "completed"


@pytest.mark.parametrize("retry_after", ["inf", "1e12"])
async def test_a_retry_after_no_client_could_wait_out_is_capped(
    client: Client,
    task_queue: str,
    worker: None,
    assistant: Assistant,
    faults: Callable[..., None],
    retry_after: str,
) -> None:
    rule = FaultRule(status=429, headers={"retry-after": retry_after, "retry-after-ms": ""})
    faults(rule.model_copy(update={"route": START}))
    handle = await start(client, task_queue, ask(assistant, "Hello", timeouts=QUICK))
    for _ in range(200):
        pending = (await handle.describe()).raw_description.pending_activities
        if pending and pending[0].HasField("next_attempt_schedule_time"):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError(f"the start was never scheduled to be retried: {pending}")
    failure = pending[0].last_failure.message
    assert "429" in failure, failure
    waits = (
        pending[0].next_attempt_schedule_time.ToDatetime()
        - pending[0].last_attempt_complete_time.ToDatetime()
    )
    assert timedelta(minutes=4) < waits <= MAX_RETRY_AFTER + timedelta(seconds=1)
    await handle.cancel()
