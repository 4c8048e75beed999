"""AssistantRun under API faults, a killed worker, bad input, and started from the Temporal CLI."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Sequence

import httpx2 as httpx
import pytest
from openai import AsyncOpenAI
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflow.v1 import PendingActivityInfo
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from emulator.config import EmulatorConfig, FaultRule
from emulator.server import BackgroundEmulator
from tests.integration.conftest import (
    API_KEY,
    FAST,
    TOOLS_MODULES,
    Assistant,
    Counters,
    Seen,
    ask,
    both_backends,
    run,
    spawn_worker,
    start,
)
from tests.replay.events import event_kinds
from workers.client import RunHandle
from workers.settings import Settings
from workers.temporal_server import temporal_binary
from workers.worker import build_worker
from workflows.contracts import CancelRequest, RunResult, RunTimeouts
from workflows.run.workflow import AssistantRun

QUICK = RunTimeouts(heartbeat_seconds=1, api_initial_retry_seconds=0.05, api_max_attempts=20)
STORM = [
    FaultRule(status=429, retry_after=0.1, rate=0.3),
    FaultRule(status=500, rate=0.1),
    FaultRule(drop="stream", rate=0.05),
    FaultRule(drop="body", rate=0.05, route="^GET "),
]


@pytest.fixture(scope="module")
def stormy_api() -> Iterator[BackgroundEmulator]:
    config = EmulatorConfig(api_key=API_KEY, timings=FAST, faults=STORM, seed=7)
    with BackgroundEmulator(config) as server:
        yield server


@both_backends
async def test_runs_complete_through_429_and_5xx_storms_without_duplicates(
    backend: str,
    client: Client,
    task_queue: str,
    settings: Settings,
    stormy_api: BackgroundEmulator,
    assistant: Assistant,
) -> None:
    stormy = settings.model_copy(update={"openai_base_url": stormy_api.base_url})
    counters = Counters(stormy_api)
    if isinstance(assistant, str):
        assistant = await _copy_assistant(stormy_api)
    questions = [f"What is the weather in City{n}?" for n in range(8)]
    async with (
        build_worker(client, stormy),
        AsyncOpenAI(base_url=stormy_api.base_url, api_key=API_KEY, max_retries=20) as openai,
    ):
        seen = Seen(backend, counters, openai)
        handles = [
            await start(client, task_queue, ask(assistant, q, timeouts=QUICK)) for q in questions
        ]
        results = await asyncio.gather(*(handle.result() for handle in handles))
        assert [r.status for r in results] == ["completed"] * len(questions)
        for handle, result in zip(handles, results, strict=True):
            assert seen.api_runs(handle.id, result) == 1
            assert [role for role, _ in await seen.conversation(result)] == ["user", "assistant"]
            assert [call.error for call in result.tool_calls] == [None]
        assert seen.all_rounds_submitted([h.id for h in handles]) == len(questions)
    assert sum(counters.read()["faults_injected"].values()) > 0


async def _copy_assistant(api: BackgroundEmulator) -> str:
    """An assistant with the tools on another emulator (retrying through its faults)."""
    from workers.wiring import project_tools

    tools = project_tools(_tools_settings()).definitions("assistants")
    async with AsyncOpenAI(base_url=api.base_url, api_key=API_KEY, max_retries=10) as openai:
        created = await openai.beta.assistants.create(model="gpt-4o", tools=tools)  # type: ignore[arg-type]
    return created.id


def _tools_settings() -> Settings:
    return Settings(tools_modules=TOOLS_MODULES)


@both_backends
async def test_a_worker_killed_mid_run_is_replaced_without_duplicates(
    client: Client,
    task_queue: str,
    settings: Settings,
    temporal_address: str,
    assistant: Assistant,
    counters: Counters,
    seen: Seen,
    worker_process: list[subprocess.Popen[bytes]],
) -> None:
    worker_process.append(spawn_worker(settings, temporal_address))
    text = "What is the weather in Oslo? [[emulator queued=3]]"
    handle = await start(client, task_queue, ask(assistant, text, timeouts=QUICK))
    await seen.until_run_created(handle)  # the start is streaming it
    if seen.backend == "responses":
        await until_heartbeat_details(handle)  # it has told Temporal which response it follows
    worker_process[0].send_signal(signal.SIGKILL)
    worker_process[0].wait()
    worker_process.append(spawn_worker(settings, temporal_address))
    result = await asyncio.wait_for(handle.result(), timeout=60)
    assert result.status == "completed"
    assert seen.api_runs(handle.id, result) == 1
    assert [role for role, _ in await seen.conversation(result)] == ["user", "assistant"]
    assert seen.rounds_submitted(handle.id) == 1
    assert "Oslo" in result.output_text
    if seen.backend == "responses":  # the new worker resumed the first response's stream
        assert counters.delta("response_streams_resumed") >= 1
    # the new worker replayed the run from its first event: no version marker recorded, no
    # workflow task it could not replay
    history = await handle.fetch_history()
    assert "workflow_task_failed" not in event_kinds(history)
    markers = [e.marker_recorded_event_attributes.marker_name for e in history.events]
    assert "core_patch" not in markers


@both_backends
@pytest.mark.parametrize("how", ["truncate", "missing_fields"])
async def test_a_stream_turning_malformed_is_retried_into_the_run_it_began(
    client: Client,
    task_queue: str,
    worker: None,
    assistant: Assistant,
    counters: Counters,
    seen: Seen,
    faults: Callable[..., None],
    how: str,
) -> None:
    # The start's stream sends its first events, then malformed ones: the attempt fails as a
    # MalformedResponse and the next one follows the run (or response) the first began.
    start_route = r"^POST /v1/(threads/[^/]+/runs|responses)$"
    faults(FaultRule(corrupt=how, after_events=2, times=1, route=start_route))
    text = "What is the weather in Oslo?"
    handle = await start(client, task_queue, ask(assistant, text, timeouts=QUICK))
    result = await asyncio.wait_for(handle.result(), timeout=60)
    assert counters.delta("faults_injected", f"corrupt_{how}") == 1
    attempts = [
        event.activity_task_started_event_attributes.attempt
        async for event in handle.fetch_history_events()
        if event.HasField("activity_task_started_event_attributes")
    ]
    assert attempts[0] == 2, "the start failed once, on the malformed event"
    assert result.status == "completed"
    assert seen.api_runs(handle.id, result) == 1
    assert seen.rounds_submitted(handle.id) == 1
    assert "Oslo" in result.output_text


@both_backends
async def test_a_cancel_during_the_retry_after_a_malformed_event_cancels_the_run_it_follows(
    client: Client,
    task_queue: str,
    worker: None,
    assistant: Assistant,
    seen: Seen,
    openai: AsyncOpenAI,
    faults: Callable[..., None],
) -> None:
    # The start's first attempt fails on a malformed event; the cancel lands while the second
    # follows the same (slow) run: that run is cancelled, none other is begun, and the run
    # ends cancelled, not as the malformed event's failure.
    start_route = r"^POST /v1/(threads/[^/]+/runs|responses)$"
    faults(FaultRule(corrupt="missing_fields", after_events=2, times=1, route=start_route))
    text = "What is the weather in Oslo? [[emulator in_progress=60]]"
    handle = await start(client, task_queue, ask(assistant, text, timeouts=QUICK))
    await until_attempt(handle, 2)
    await handle.execute_update(AssistantRun.cancel, CancelRequest(reason="no longer needed"))
    result = await asyncio.wait_for(handle.result(), timeout=30)
    assert (result.status, result.last_error) == ("cancelled", None)
    assert seen.api_runs(handle.id, result) == 1
    assert result.run_id is not None
    if seen.backend == "assistants":
        thread_id = result.thread_id or ""
        run = await openai.beta.threads.runs.retrieve(result.run_id, thread_id=thread_id)
        assert run.status == "cancelled"
    else:
        assert (await openai.responses.retrieve(result.run_id)).status == "cancelled"


async def until_attempt(handle: RunHandle, attempt: int, within: float = 45.0) -> None:
    """Until the pending activity (the start) is running its `attempt`th attempt or a later
    one: on a loaded machine a retry can miss its 1 s heartbeat timeout and be retried again
    between two looks, and a retry can wait for a free worker slot for many seconds."""
    deadline = time.monotonic() + within
    pending: list[PendingActivityInfo] = []
    while time.monotonic() < deadline:
        pending = list((await handle.describe()).raw_description.pending_activities)
        if pending and pending[0].attempt >= attempt and pending[0].last_started_time.seconds:
            return
        await asyncio.sleep(0.05)
    seen = [(p.activity_type.name, p.attempt, p.state, p.last_failure.message) for p in pending]
    raise AssertionError(f"the start never reached attempt {attempt} in {within:.0f} s: {seen}")


async def until_heartbeat_details(handle: RunHandle) -> None:
    for _ in range(200):
        pending = (await handle.describe()).raw_description.pending_activities
        if pending and pending[0].heartbeat_details.payloads:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the activity never heartbeated where it is")


HELLO = {"assistant_id": "asst_1", "messages": [{"content": "hi"}]}


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        ({"messages": [{"content": "hi"}]}, "assistant_id, assistant"),
        ({"assistant_id": "asst_1"}, "messages"),
        ({"assistant_id": "asst_1", "messages": [{"content": ""}]}, "messages.0.content"),
        ({"assistant_id": "asst_1", "messages": [{"text": "hi"}]}, "messages.0.text"),
        ({**HELLO, "temperature": 9}, "temperature"),
        ({**HELLO, "on_active_run": "x"}, "on_active_run"),
    ],
    ids=["no-assistant", "no-messages", "empty-content", "unknown-field", "range", "enum"],
)
async def test_invalid_input_fails_at_once_naming_the_field_and_creates_nothing(
    client: Client,
    task_queue: str,
    worker: None,
    counters: Counters,
    payload: dict[str, object],
    named: str,
) -> None:
    handle = await client.start_workflow(
        "AssistantRun", payload, id=f"bad-{uuid.uuid4()}", task_queue=task_queue
    )
    with pytest.raises(WorkflowFailureError) as failure:
        await asyncio.wait_for(handle.result(), timeout=10)
    assert isinstance(failure.value.cause, ApplicationError)
    assert named in failure.value.cause.message
    assert counters.delta("requests", "POST /v1/threads 200") == 0


async def test_an_unknown_tool_name_fails_before_anything_is_created(
    client: Client, task_queue: str, worker: None, assistant_id: str, counters: Counters
) -> None:
    request = ask(assistant_id, "Hello", tools=["get_weather", "no_such_tool"])
    with pytest.raises(WorkflowFailureError) as failure:
        await run(client, task_queue, request)
    assert isinstance(failure.value.cause, ApplicationError)
    assert "tools: no registered tool named 'no_such_tool'" in failure.value.cause.message
    assert counters.delta("requests", "POST /v1/threads 200") == 0


async def test_the_temporal_cli_starts_a_run_with_plain_json(
    client: Client, task_queue: str, worker: None, assistant_id: str, temporal_address: str
) -> None:
    workflow_id = f"cli-{uuid.uuid4()}"
    payload = {"assistant_id": assistant_id, "messages": [{"content": "Please calculate 6 * 7"}]}
    await asyncio.to_thread(
        subprocess.run,
        [
            str(temporal_binary()),
            "workflow",
            "start",
            "--address",
            temporal_address,
            "--type",
            "AssistantRun",
            "--task-queue",
            task_queue,
            "--workflow-id",
            workflow_id,
            "--input",
            json.dumps(payload),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    result = await client.get_workflow_handle(workflow_id, result_type=RunResult).result()
    assert result.status == "completed"
    assert [call.output for call in result.tool_calls] == ["42"]


MALFORMED = [
    FaultRule(corrupt="truncate", rate=0.15),
    FaultRule(corrupt="unknown_status", rate=0.15),
    FaultRule(corrupt="missing_fields", rate=0.15),
]


async def test_malformed_responses_are_retried_never_a_stuck_run(
    client: Client, task_queue: str, settings: Settings, assistant_id: str
) -> None:
    config = EmulatorConfig(api_key=API_KEY, timings=FAST, seed=11)
    with BackgroundEmulator(config) as garbling_api:
        garbled = settings.model_copy(update={"openai_base_url": garbling_api.base_url})
        counters = Counters(garbling_api)
        assistant = await _copy_assistant(garbling_api)
        garbling = config.model_copy(update={"faults": MALFORMED}).model_dump(mode="json")
        httpx.put(f"{garbling_api.admin_url}/config", json=garbling).raise_for_status()
        questions = [f"What is the weather in Town{n}?" for n in range(6)]
        async with build_worker(client, garbled):
            results = await asyncio.wait_for(
                asyncio.gather(
                    *(run(client, task_queue, ask(assistant, q, timeouts=QUICK)) for q in questions)
                ),
                timeout=120,
            )
        faults = counters.read()["faults_injected"]
        runs_per_thread = [counters.of_thread("runs_created", r.thread_id or "") for r in results]
    assert [r.status for r in results] == ["completed"] * len(questions)
    assert sum(count for kind, count in faults.items() if "corrupt" in kind) > 0
    assert runs_per_thread == [1] * len(questions)


async def test_an_oversized_message_is_refused_before_it_reaches_history(
    client: Client, task_queue: str, worker: None, assistant_id: str
) -> None:
    with pytest.raises(ValueError, match="at most 256000 characters"):
        ask(assistant_id, "x" * 256_001)  # the typed client refuses it before sending
    workflow_id = f"huge-{uuid.uuid4()}"
    huge = {"assistant_id": assistant_id, "messages": [{"content": "x" * 3_000_000}]}
    with pytest.raises(RPCError, match=r"(?i)size"):
        await client.start_workflow("AssistantRun", huge, id=workflow_id, task_queue=task_queue)
    assert (await client.count_workflows(f'WorkflowId = "{workflow_id}"')).count == 0


async def test_the_temporal_cli_with_invalid_json_fails_naming_the_field(
    client: Client, task_queue: str, worker: None, temporal_address: str
) -> None:
    workflow_id = f"cli-bad-{uuid.uuid4()}"
    await asyncio.to_thread(
        subprocess.run,
        [
            str(temporal_binary()),
            "workflow",
            "start",
            "--address",
            temporal_address,
            "--type",
            "AssistantRun",
            "--task-queue",
            task_queue,
            "--workflow-id",
            workflow_id,
            "--input",
            json.dumps({"assistant_id": "asst_1", "messages": [{"content": 7}]}),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    with pytest.raises(WorkflowFailureError) as failure:
        await asyncio.wait_for(client.get_workflow_handle(workflow_id).result(), timeout=10)
    assert isinstance(failure.value.cause, ApplicationError)
    assert "messages.0.content" in failure.value.cause.message


@pytest.mark.parametrize(
    ("route", "step"),
    [("^POST /v1/threads$", "run.create_thread"), ("^POST /v1/threads/[^/]+/runs$", "run.start")],
    ids=["thread", "run"],
)
async def test_a_429_is_retried_no_earlier_than_its_retry_after(
    client: Client, task_queue: str, settings: Settings, assistant_id: str, route: str, step: str
) -> None:
    config = EmulatorConfig(api_key=API_KEY, timings=FAST)
    with BackgroundEmulator(config) as limited:
        assistant = await _copy_assistant(limited)
        rule = FaultRule(status=429, retry_after=2, times=1, route=route)
        limiting = config.model_copy(update={"faults": [rule]}).model_dump(mode="json")
        httpx.put(f"{limited.admin_url}/config", json=limiting).raise_for_status()
        async with build_worker(
            client, settings.model_copy(update={"openai_base_url": limited.base_url})
        ):
            handle = await start(client, task_queue, ask(assistant, "Hi", timeouts=QUICK))
            assert (await handle.result()).status == "completed"
    attempt, waited = _last_attempt_of(step, (await handle.fetch_history()).events)
    assert attempt == 2
    assert waited >= 2.0  # the policy alone would retry after 0.05 s


def _last_attempt_of(step: str, events: Sequence[HistoryEvent]) -> tuple[int, float]:
    """The attempt that finished `step` and the seconds since it was first scheduled (a local
    activity: since the run started), from its local activity's marker or its activity's
    events."""
    scheduled: dict[int, HistoryEvent] = {}
    for event in events:
        if event.HasField("marker_recorded_event_attributes"):
            details = event.marker_recorded_event_attributes.details
            if "data" in details:  # a local activity's marker (a patch's has patch-data)
                data = json.loads(details["data"].payloads[0].data)
                if data["activity_type"] == step:  # recorded when its workflow task ended
                    waited = event.event_time.ToDatetime() - events[0].event_time.ToDatetime()
                    return data["attempt"], waited.total_seconds()
        if event.activity_task_scheduled_event_attributes.activity_type.name == step:
            scheduled[event.event_id] = event
        started = event.activity_task_started_event_attributes
        if started.scheduled_event_id in scheduled:
            waited = (
                event.event_time.ToDatetime()
                - scheduled[started.scheduled_event_id].event_time.ToDatetime()
            )
            return started.attempt, waited.total_seconds()
    raise AssertionError(f"the run took no {step} step")
