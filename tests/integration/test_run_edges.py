"""AssistantRun at its edges: cancels that land during a retried attempt, while the run is
being created, in the same activation as a step's result; starts committed late by the API."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from openai import AsyncOpenAI
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import PollWorkflowTaskQueueRequest
from temporalio.client import Client, WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.worker import Replayer
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from emulator.config import FaultRule
from emulator.server import BackgroundEmulator
from emulator.thread_data import threads
from tests.integration.conftest import Counters, ask, spawn_worker, start, until, until_counted
from workers.client import RunHandle
from workers.settings import Settings
from workers.worker import WORKFLOWS, build_worker
from workflows.contracts import CancelRequest, RunTimeouts
from workflows.run.workflow import AssistantRun

QUICK = RunTimeouts(heartbeat_seconds=1, api_initial_retry_seconds=0.05, api_max_attempts=20)
CREATE_RUN = r"^POST /v1/threads/[^/]+/runs$"


async def test_a_cancel_during_a_retried_attempt_cancels_that_attempts_run(
    client: Client,
    task_queue: str,
    worker: None,
    assistant_id: str,
    counters: Counters,
    openai: AsyncOpenAI,
) -> None:
    text = "Hello [[emulator queued=3 fail=server_error*1]]"
    request = ask(assistant_id, text, max_run_attempts=2, timeouts=QUICK)
    handle = await start(client, task_queue, request)
    state = await until(handle, lambda s: s.run_attempts == 2)
    assert state.thread_id is not None
    await until_counted(counters, "runs_created", state.thread_id, at_least=2)
    await handle.execute_update(AssistantRun.cancel, CancelRequest(reason="no longer needed"))
    result = await handle.result()
    runs = [r async for r in openai.beta.threads.runs.list(state.thread_id, order="asc")]
    assert [r.status for r in runs] == ["failed", "cancelled"]
    assert (result.status, result.run_id, result.last_error) == ("cancelled", runs[1].id, None)
    assert result.run_attempts == 2
    api_usage = sum(r.usage.total_tokens for r in runs if r.usage)
    assert result.usage.total_tokens == api_usage


async def test_a_cancel_landing_as_an_attempt_fails_ends_cancelled_without_a_retry(
    client: Client,
    task_queue: str,
    worker: None,
    assistant_id: str,
    counters: Counters,
    openai: AsyncOpenAI,
    faults: Callable[..., None],
) -> None:
    # The attempt's run has failed (transiently) and the start, whose stream broke, is reading
    # its messages when the cancel lands: the cancel finds the failed run, which must not be
    # retried or hang.
    faults(
        FaultRule(drop="stream", after_events=2, times=1, route=CREATE_RUN),
        FaultRule(latency=3, times=1, route=r"^GET /v1/threads/[^/]+/messages$"),
    )
    text = "Hello [[emulator fail=server_error*1]]"
    handle = await start(client, task_queue, ask(assistant_id, text, max_run_attempts=2))
    await until_counted(counters, "faults_injected", "latency")
    cancel = handle.execute_update(AssistantRun.cancel, CancelRequest(reason="changed my mind"))
    state = await asyncio.wait_for(cancel, timeout=30)
    assert state.phase == "cancelled"
    result = await handle.result()
    assert (result.status, result.run_attempts, result.last_error) == ("cancelled", 1, None)
    assert result.thread_id is not None
    runs = [r async for r in openai.beta.threads.runs.list(result.thread_id)]
    assert [r.status for r in runs] == ["failed"], "no attempt is started after the cancel"


async def test_a_cancel_while_the_run_is_being_created_cancels_the_run_the_api_makes(
    client: Client,
    task_queue: str,
    worker: None,
    assistant_id: str,
    counters: Counters,
    openai: AsyncOpenAI,
    faults: Callable[..., None],
) -> None:
    # The API takes 3 s to create the run; the cancel reaches the start within a second.
    faults(FaultRule(latency=3, times=1, route=CREATE_RUN))
    request = ask(assistant_id, "Hello [[emulator queued=30]]", timeouts=QUICK)
    handle = await start(client, task_queue, request)
    await until_counted(counters, "faults_injected", "latency")
    await handle.execute_update(AssistantRun.cancel, CancelRequest())
    result = await handle.result()
    assert result.status == "cancelled"
    assert result.thread_id is not None
    runs = [r async for r in openai.beta.threads.runs.list(result.thread_id)]
    assert [r.status for r in runs] in (["cancelled"], ["cancelling"])
    assert result.run_id == runs[0].id


async def test_a_start_committed_after_a_dead_workers_lookup_is_adopted_not_repeated(
    client: Client,
    task_queue: str,
    settings: Settings,
    temporal_address: str,
    assistant_id: str,
    counters: Counters,
    faults: Callable[..., None],
    worker_process: list[subprocess.Popen[bytes]],
) -> None:
    # The first create reaches the API 6 s late, after its worker died and the retry (on the
    # other worker) looked for it and found nothing; the retry's own create arrives later
    # still, while the first run is active: the API answers "already has an active run" with
    # our own run, which must be adopted.
    faults(
        FaultRule(latency=6, times=1, route=CREATE_RUN),
        FaultRule(latency=6, times=1, route=CREATE_RUN),
    )
    workers = {}
    for _ in range(2):
        process = spawn_worker(settings, temporal_address)
        worker_process.append(process)
        workers[process.pid] = process
    text = "Say hello to Ada [[emulator queued=8]]"
    handle = await start(client, task_queue, ask(assistant_id, text, timeouts=QUICK))
    await until_counted(counters, "faults_injected", "latency")
    [starting] = (await handle.describe()).raw_description.pending_activities
    busy = workers[int(starting.last_worker_identity.split("@")[0])]
    busy.send_signal(signal.SIGKILL)
    busy.wait()
    result = await asyncio.wait_for(handle.result(), timeout=60)
    assert result.status == "completed"
    assert result.thread_id is not None
    assert counters.of_thread("runs_created", result.thread_id) == 1
    assert counters.of_thread("messages_created", result.thread_id) == 1
    assert counters.delta("requests", "POST /v1/threads/{thread_id}/runs 400") == 1


@pytest.mark.parametrize("how", ["update", "workflow cancellation"])
async def test_a_cancel_in_the_same_activation_as_a_step_result_cancels_the_run(
    how: str,
    client: Client,
    task_queue: str,
    settings: Settings,
    assistant_id: str,
    openai: AsyncOpenAI,
) -> None:
    # Only activities run while the workflow worker is away: the start's result and the
    # cancel then reach the workflow in one activation.
    text = 'call slow_lookup with {"seconds": 1} [[emulator queued=1]]'
    async with build_worker(client, settings, workflows=[]):
        async with build_worker(client, settings, activities=[]):
            handle = await client.start_workflow(
                AssistantRun.run,
                ask(assistant_id, text),
                id=f"run-{uuid.uuid4()}",
                task_queue=task_queue,
                task_timeout=timedelta(seconds=1),
            )
            await until(handle, lambda s: s.thread_id is not None)
        await _until_no_activity_pending(handle)
        cancelling = await _request_cancel(client, handle, task_queue, how)
        async with build_worker(client, settings, activities=[]):
            result = await asyncio.wait_for(handle.result(), timeout=30)
            await asyncio.wait_for(cancelling, timeout=30)
    assert result.status == "cancelled"
    assert result.thread_id is not None
    assert result.run_id is not None
    api_run = await openai.beta.threads.runs.retrieve(result.run_id, thread_id=result.thread_id)
    assert api_run.status == "cancelled"


async def _until_no_activity_pending(handle: RunHandle) -> None:
    for _ in range(400):
        description = await handle.describe()
        if not description.raw_description.pending_activities:
            return
        await asyncio.sleep(0.025)
    raise AssertionError("an activity is still pending")


async def _request_cancel(
    client: Client, handle: RunHandle, task_queue: str, how: str
) -> asyncio.Task[object]:
    """Request the cancel while no workflow worker runs; returns once it is in the workflow's
    next task (with the step's result)."""
    if how == "workflow cancellation":
        await handle.cancel()
        return asyncio.create_task(asyncio.sleep(0))
    update = asyncio.create_task(
        handle.execute_update(AssistantRun.cancel, CancelRequest(reason="same activation"))
    )
    while True:  # take the workflow's tasks as a worker would, unanswered, until one has it
        task = await client.workflow_service.poll_workflow_task_queue(
            PollWorkflowTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueue(name=task_queue),
                identity="test: holds the task until it times out",
            )
        )
        if task.messages:
            return update


async def test_a_tool_failing_for_good_on_its_first_attempt_reports_one_attempt(
    client: Client, task_queue: str, worker: None, assistant_id: str
) -> None:
    text = 'call refuses with {"reason": "no such order"}'
    result = await (await start(client, task_queue, ask(assistant_id, text))).result()
    [call] = result.tool_calls
    assert (call.error, call.attempts) == ("tool_failed", 1)
    assert "failed after 1 attempts: no such order" in call.output


async def test_a_stream_error_event_is_retried_when_transient_and_final_when_not(
    client: Client,
    task_queue: str,
    worker: None,
    assistant_id: str,
    counters: Counters,
    faults: Callable[..., None],
) -> None:
    faults(FaultRule(drop="error", times=1, route=CREATE_RUN))
    request = ask(assistant_id, "Say hello to Ada", timeouts=QUICK)
    retried = await (await start(client, task_queue, request)).result()
    assert retried.status == "completed"
    assert retried.thread_id is not None
    assert counters.of_thread("runs_created", retried.thread_id) == 1
    faults(FaultRule(drop="error", error_code="invalid_request_error", route=CREATE_RUN))
    with pytest.raises(WorkflowFailureError) as failed:
        await (await start(client, task_queue, request)).result()
    assert isinstance(failed.value.cause, ApplicationError)
    assert failed.value.cause.type == "StreamError"
    assert "invalid_request_error" in failed.value.cause.message
    assert counters.delta("faults_injected", "drop_error") == 2


async def test_run_messages_are_the_runs_messages_whether_or_not_a_stream_broke(
    client: Client,
    task_queue: str,
    worker: None,
    assistant_id: str,
    openai: AsyncOpenAI,
    faults: Callable[..., None],
) -> None:
    # The model says something before calling the tool, then answers: two messages from two
    # streams. A broken stream makes the worker find the run again and poll it.
    text = "What is the weather in Rome? [[emulator preamble=1]]"
    plain = await (await start(client, task_queue, ask(assistant_id, text))).result()
    faults(FaultRule(drop="stream", times=1, route=r"submit_tool_outputs$"))
    request = ask(assistant_id, text, timeouts=QUICK)
    broken = await (await start(client, task_queue, request)).result()
    for result in (plain, broken):
        assert result.thread_id is not None
        assert result.run_id is not None
        listed = openai.beta.threads.messages.list(
            result.thread_id, run_id=result.run_id, order="asc"
        )
        assert [m.id for m in result.messages] == [m.id async for m in listed]
        assert [m.role for m in result.messages] == ["assistant", "assistant"]
        assert result.messages[0].text == "Let me look that up."
        assert "Rome" in result.output_text


CREATE_THREAD = r"^POST /v1/threads$"
CREATE_RUN_PATH = "/v1/threads/{thread_id}/runs"  # as the emulator counts requests


@pytest.mark.parametrize("how", ["cancel", "deadline"])
async def test_a_stop_while_the_thread_creation_is_retried_ends_the_run_before_any_run(
    how: str,
    client: Client,
    task_queue: str,
    worker: None,
    assistant_id: str,
    counters: Counters,
    faults: Callable[..., None],
) -> None:
    # The thread is created in the workflow task (a local activity): every attempt fails.
    faults(FaultRule(status=503, route=CREATE_THREAD))
    deadline = {"deadline_seconds": 2} if how == "deadline" else {}
    request = ask(assistant_id, "Hello", timeouts=QUICK, **deadline)
    handle = await start(client, task_queue, request)
    await until_counted(counters, "requests", "POST /v1/threads 503", at_least=2)
    if how == "cancel":
        cancel = handle.execute_update(AssistantRun.cancel, CancelRequest(reason="not now"))
        assert (await asyncio.wait_for(cancel, timeout=30)).phase == "cancelled"
    result = await asyncio.wait_for(handle.result(), timeout=30)
    expected = {
        "cancel": ("cancelled", "not now"),
        "deadline": ("expired", "deadline of 2s passed"),
    }
    assert (result.status, result.cancel_reason) == expected[how]
    assert (result.thread_id, result.run_id) == (None, None)
    assert counters.delta("requests", "POST /v1/threads 200") == 0
    assert counters.delta("requests", f"POST {CREATE_RUN_PATH} 200") == 0


@pytest.mark.parametrize("how", ["cancel", "deadline"])
async def test_a_stop_while_the_thread_is_being_created_leaves_no_thread_unaccounted_for(
    how: str,
    client: Client,
    task_queue: str,
    worker: None,
    api: BackgroundEmulator,
    assistant_id: str,
    counters: Counters,
    faults: Callable[..., None],
) -> None:
    # The API takes 3 s to create the thread, the local activity of the first workflow task,
    # which heartbeats (completes and goes on in a new task) every 1.6 s: the stop reaches
    # the workflow while the request is out, and the API creates the thread all the same.
    faults(FaultRule(latency=3, times=1, route=CREATE_THREAD))
    deadline = {"deadline_seconds": 1} if how == "deadline" else {}
    handle = await client.start_workflow(
        AssistantRun.run,
        ask(assistant_id, "Hello [[emulator queued=30]]", timeouts=QUICK, **deadline),
        id=f"run-{uuid.uuid4()}",
        task_queue=task_queue,
        task_timeout=timedelta(seconds=2),
    )
    await until_counted(counters, "faults_injected", "latency")
    if how == "cancel":
        cancel = handle.execute_update(AssistantRun.cancel, CancelRequest(reason="not now"))
        assert (await asyncio.wait_for(cancel, timeout=30)).phase == "cancelled"
    result = await asyncio.wait_for(handle.result(), timeout=30)
    assert result.status == {"cancel": "cancelled", "deadline": "expired"}[how]
    # the cancel comes in the task that heartbeats while the request is out; the deadline's
    # timer starts with the first task, but the step after the thread checks the clock
    assert result.run_id is None
    assert counters.delta("requests", f"POST {CREATE_RUN_PATH} 200") == 0
    made = [
        thread_id
        for thread_id, entry in threads(api.emulator.store).entries.items()
        if entry.public["metadata"].get("workflow_id") == handle.id
    ]
    assert made in ([], [result.thread_id]), "a thread made for the run is deleted or named"
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=pydantic_data_converter,
        workflow_runner=SandboxedWorkflowRunner(),
    )
    await replayer.replay_workflow(await handle.fetch_history(), raise_on_replay_failure=True)


async def test_a_worker_killed_while_it_creates_the_thread_leaves_one_run(
    client: Client,
    task_queue: str,
    settings: Settings,
    temporal_address: str,
    assistant_id: str,
    counters: Counters,
    openai: AsyncOpenAI,
    faults: Callable[..., None],
    worker_process: list[subprocess.Popen[bytes]],
) -> None:
    # The first thread creation answers 4 s late; its worker dies meanwhile. Another worker
    # takes the workflow task over and creates the thread again: at most one empty thread
    # is left behind, and the run happens once.
    faults(FaultRule(latency=4, times=1, route=CREATE_THREAD))
    first = spawn_worker(settings, temporal_address)
    worker_process.append(first)
    handle = await client.start_workflow(
        AssistantRun.run,
        ask(assistant_id, "Say hello to Ada", timeouts=QUICK),
        id=f"run-{uuid.uuid4()}",
        task_queue=task_queue,
        task_timeout=timedelta(seconds=2),
    )
    await until_counted(counters, "faults_injected", "latency")
    first.send_signal(signal.SIGKILL)
    first.wait()
    worker_process.append(spawn_worker(settings, temporal_address))
    result = await asyncio.wait_for(handle.result(), timeout=60)
    assert result.status == "completed"
    assert result.thread_id is not None
    runs = [r async for r in openai.beta.threads.runs.list(result.thread_id)]
    assert [r.id for r in runs] == [result.run_id]
    assert counters.delta("requests", f"POST {CREATE_RUN_PATH} 200") == 1
    assert counters.delta("requests", "POST /v1/threads 200") <= 2


async def test_a_cancel_while_a_failed_run_deletes_its_thread_is_answered_failed(
    client: Client,
    task_queue: str,
    worker: None,
    assistant_id: str,
    counters: Counters,
    faults: Callable[..., None],
) -> None:
    # The run fails for good (its model does not exist) after making its thread, and takes
    # 3 s to delete that thread: a cancel sent meanwhile gets an answer, the run ends failed.
    faults(FaultRule(latency=3, times=1, route=r"^DELETE /v1/threads/[^/]+$"))
    request = ask(assistant_id, "Hello", model="no-such-model", timeouts=QUICK)
    handle = await start(client, task_queue, request)
    await until_counted(counters, "faults_injected", "latency")
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await asyncio.wait_for(
            handle.execute_update(AssistantRun.cancel, CancelRequest(reason="too late")), 30
        )
    assert "the run already ended: failed" in str(refused.value.cause)
    with pytest.raises(WorkflowFailureError) as failed:
        await asyncio.wait_for(handle.result(), 30)
    assert "no-such-model" in str(failed.value.cause)
    assert (await handle.query(AssistantRun.state)).phase == "failed"
