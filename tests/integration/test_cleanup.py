"""Cleanup: scheduled, policy-bound, paged deletion of what this system created, and only that."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import time
import uuid
from collections import Counter

import httpx2 as httpx
import openai as openai_sdk
import pytest
from openai import AsyncOpenAI
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import ActivityEnvironment

from activities.cleanup.deletion import IN_USE, CleanupDeletion
from activities.ownership import owned_metadata
from activities.run.assistants import AssistantsBackend
from activities.run.responses import ResponsesBackend
from activities.run.steps import RunSteps
from activities.tools import ToolRegistry
from activities.uploads import Uploads
from emulator.server import BackgroundEmulator
from tests.integration.conftest import (
    API_KEY,
    FAST,
    Assistant,
    Counters,
    Seen,
    ask,
    both_backends,
    run,
    spawn_worker,
    until_counted,
)
from tests.integration.test_code_interpreter import SALES, chart_request
from tests.integration.test_thread import config
from workers.cli.cleanup import run_once, schedule_command
from workers.client import send_message
from workers.settings import Settings
from workers.worker import build_worker
from workflows.cleanup.steps import DeleteResources
from workflows.cleanup.workflow import Cleanup
from workflows.contracts import (
    CleanupItem,
    CleanupPolicy,
    CleanupReport,
    CloseThread,
    RunRequest,
    RunTimeouts,
    ThreadConfig,
)
from workflows.thread.workflow import AssistantThread

QUICK = RunTimeouts(heartbeat_seconds=1, api_initial_retry_seconds=0.05)
FOREIGN = "not created by durable-assistants"


async def exists(check: object) -> bool:
    try:
        await check  # type: ignore[misc]
    except openai_sdk.NotFoundError:
        return False
    return True


def ids(report: CleanupReport, kind: str) -> set[str]:
    return {item.id for item in report.deleted if item.kind == kind}


def run_steps(openai: AsyncOpenAI) -> RunSteps:
    tools = ToolRegistry()
    return RunSteps(AssistantsBackend(openai, tools), ResponsesBackend(openai, tools))


async def our_file(openai: AsyncOpenAI, name: str) -> str:
    """A file uploaded the way this system uploads (named by its content)."""
    content = f"{name} {uuid.uuid4()}".encode()
    digest = hashlib.sha256(content).hexdigest()[:16]
    return await Uploads(openai).upload(name, content, digest)


async def test_a_scheduled_cleanup_deletes_only_what_the_policy_names(
    client: Client, task_queue: str, cleanup_settings: Settings, own_openai: AsyncOpenAI
) -> None:
    async with build_worker(client, cleanup_settings):
        assistant = await own_openai.beta.assistants.create(model="gpt-4o")
        done = [await run(client, task_queue, ask(assistant.id, f"Hi {n}")) for n in range(2)]
        old_threads = {r.thread_id for r in done}
        thread_cfg = ThreadConfig(key=uuid.uuid4().hex[:8], assistant_id=assistant.id)
        kept_thread = (await send_message(client, task_queue, thread_cfg, "Still open")).thread_id
        stores = own_openai.vector_stores
        team_x = await stores.create(name="x", metadata=owned_metadata({"team": "x"}))
        team_y = await stores.create(name="y", metadata=owned_metadata({"team": "y"}))
        in_use = await stores.create(name="used", metadata=owned_metadata({"team": "x"}))
        await own_openai.beta.assistants.update(
            assistant.id,
            tools=[{"type": "file_search"}],
            tool_resources={"file_search": {"vector_store_ids": [in_use.id]}},
        )
        policy = CleanupPolicy(
            thread_max_age_seconds=0,
            vector_store_max_age_seconds=0,
            metadata={"team": "x"},
            workflow_query=f'TaskQueue = "{task_queue}"',
            dry_run=True,
        )
        dry = await run_once(cleanup_settings, policy)
        assert ids(dry, "threads") == old_threads
        assert ids(dry, "vector_stores") == {team_x.id}
        assert {(i.id, i.reason) for i in dry.skipped} == {
            (in_use.id, "attached to an assistant that ran recently"),
        }
        assert await exists(own_openai.vector_stores.retrieve(team_x.id))

        schedule_id = f"cleanup-{uuid.uuid4().hex[:8]}"
        real = policy.model_copy(update={"dry_run": False})
        await schedule_command(cleanup_settings, real, every=3600, schedule_id=schedule_id)
        schedule = client.get_schedule_handle(schedule_id)
        await schedule.trigger()
        report = await _scheduled_result(client, schedule_id)
        await schedule.delete()
    assert (ids(report, "threads"), ids(report, "vector_stores")) == (
        ids(dry, "threads"),
        ids(dry, "vector_stores"),
    )
    for thread_id in old_threads:
        assert not await exists(own_openai.beta.threads.retrieve(str(thread_id)))
    assert await exists(own_openai.beta.threads.retrieve(str(kept_thread)))
    assert not await exists(own_openai.vector_stores.retrieve(team_x.id))
    assert await exists(own_openai.vector_stores.retrieve(team_y.id))
    assert await exists(own_openai.vector_stores.retrieve(in_use.id))


@both_backends
async def test_threads_of_closed_runs_go_and_those_in_use_stay(
    backend: str,
    client: Client,
    task_queue: str,
    cleanup_settings: Settings,
    own_openai: AsyncOpenAI,
    own_api: BackgroundEmulator,
) -> None:
    seen = Seen(backend, Counters(own_api), own_openai)
    if backend == "assistants":
        target: Assistant = (await own_openai.beta.assistants.create(model="gpt-4o")).id
    else:
        target = {"name": "cleaner", "model": "gpt-4o"}
    async with build_worker(client, cleanup_settings):
        done = [await run(client, task_queue, ask(target, f"Hi {n}")) for n in range(2)]
        conversation = config(target)
        open_thread = (await send_message(client, task_queue, conversation, "Still open")).thread_id
        policy = CleanupPolicy(
            thread_max_age_seconds=0, workflow_query=f'TaskQueue = "{task_queue}"'
        )
        report = await run_once(cleanup_settings, policy)
    assert ids(report, "threads") == {r.thread_id for r in done}
    for result in done:
        assert not await seen.thread_exists(str(result.thread_id))
    assert await seen.thread_exists(str(open_thread))


async def test_what_this_system_did_not_create_survives_unless_the_policy_says_so(
    client: Client, task_queue: str, cleanup_settings: Settings, own_openai: AsyncOpenAI
) -> None:
    foreign_file = await own_openai.files.create(file=("mine.txt", b"mine"), purpose="assistants")
    foreign_store = await own_openai.vector_stores.create(name="someone else's")
    foreign_thread = await own_openai.beta.threads.create()
    foreign_assistant = await own_openai.beta.assistants.create(model="gpt-4o", name="theirs")
    ours = await our_file(own_openai, "ours.txt")
    async with build_worker(client, cleanup_settings):
        adopted = ask(foreign_assistant.id, "Hello", thread_id=foreign_thread.id)
        assert (await run(client, task_queue, adopted)).status == "completed"
        policy = CleanupPolicy(
            thread_max_age_seconds=0,
            vector_store_max_age_seconds=0,
            file_max_age_seconds=0,
            workflow_query=f'TaskQueue = "{task_queue}"',
        )
        report = await run_once(cleanup_settings, policy)
        foreign = {foreign_file.id, foreign_store.id, foreign_thread.id}
        assert {i.id for i in report.skipped if i.reason == FOREIGN} >= foreign
        assert ours in ids(report, "files")
        assert not {i.id for i in report.deleted} & foreign
        assert report.warnings == []
        assert await exists(own_openai.files.retrieve(foreign_file.id))
        assert await exists(own_openai.vector_stores.retrieve(foreign_store.id))
        assert await exists(own_openai.beta.threads.retrieve(foreign_thread.id))
        assert await exists(own_openai.beta.assistants.retrieve(foreign_assistant.id))
        assert not await exists(own_openai.files.retrieve(ours))

        everything = policy.model_copy(update={"include_foreign": True})
        report = await run_once(cleanup_settings, everything)
    deleted = {i.id: i.foreign for i in report.deleted}
    assert {deleted.get(i) for i in foreign} == {True}
    assert report.foreign_deleted >= 3
    assert "did not create were deleted" in report.warnings[0]
    assert not await exists(own_openai.beta.threads.retrieve(foreign_thread.id))
    assert await exists(own_openai.beta.assistants.retrieve(foreign_assistant.id))


async def test_a_threads_age_counts_from_when_its_workflows_closed(
    client: Client, task_queue: str, cleanup_settings: Settings, own_openai: AsyncOpenAI
) -> None:
    assistant = await own_openai.beta.assistants.create(model="gpt-4o")
    conversation = ThreadConfig(key=uuid.uuid4().hex[:8], assistant_id=assistant.id)
    async with build_worker(client, cleanup_settings):
        first = await send_message(client, task_queue, conversation, "Hello [[emulator queued=2]]")
        handle = client.get_workflow_handle_for(AssistantThread.run, f"thread-{conversation.key}")
        await handle.execute_update(AssistantThread.close, CloseThread())
        await handle.result()
        # Started over 2 s ago, closed just now: not older than 1 s.
        policy = CleanupPolicy(
            thread_max_age_seconds=1, workflow_query=f'TaskQueue = "{task_queue}"'
        )
        report = await run_once(cleanup_settings, policy)
    assert first.thread_id not in ids(report, "threads")
    assert await exists(own_openai.beta.threads.retrieve(str(first.thread_id)))


async def test_a_thread_taken_up_again_right_before_deletion_is_kept(
    client: Client, task_queue: str, cleanup_settings: Settings, own_openai: AsyncOpenAI
) -> None:
    assistant = await own_openai.beta.assistants.create(model="gpt-4o")
    thread = await own_openai.beta.threads.create(metadata=owned_metadata())
    conversation = ThreadConfig(
        key=uuid.uuid4().hex[:8], assistant_id=assistant.id, thread_id=thread.id
    )
    async with build_worker(client, cleanup_settings):
        await send_message(client, task_queue, conversation, "Still talking")  # stays open
        item = CleanupItem(kind="threads", id=thread.id)
        deletion = await ActivityEnvironment().run(
            CleanupDeletion(own_openai, client, run_steps(own_openai)).delete,
            DeleteResources(items=[item]),
        )
    assert [(i.id, i.reason) for i in deletion.kept] == [(thread.id, IN_USE)]
    assert await exists(own_openai.beta.threads.retrieve(thread.id))


async def test_a_large_sweep_is_paged_and_continues_as_new(
    client: Client, task_queue: str, cleanup_settings: Settings, own_openai: AsyncOpenAI
) -> None:
    created = set(await asyncio.gather(*(our_file(own_openai, f"f{n}.txt") for n in range(250))))
    policy = CleanupPolicy(file_max_age_seconds=0, pages_per_execution=1, timeouts=QUICK)
    workflow_id = f"sweep-{uuid.uuid4()}"
    async with build_worker(client, cleanup_settings):
        report = await client.execute_workflow(
            Cleanup.run, policy, id=workflow_id, task_queue=task_queue
        )
    assert created <= ids(report, "files")
    assert report.deleted_count == len(report.deleted) >= 250
    executions = [e async for e in client.list_workflows(f'WorkflowId = "{workflow_id}"')]
    statuses = [e.status for e in executions]
    assert statuses.count(WorkflowExecutionStatus.CONTINUED_AS_NEW) >= 2


async def test_a_sweep_that_continues_as_new_deletes_each_of_ours_once_and_no_other(
    client: Client,
    task_queue: str,
    cleanup_settings: Settings,
    own_openai: AsyncOpenAI,
    own_api: BackgroundEmulator,
) -> None:
    ours: list[str] = []
    foreign: list[str] = []
    for n in range(160):  # interleaved, so every page holds some of each
        ours.append(await our_file(own_openai, f"ours{n}.txt"))
        if n % 3 == 0:
            theirs = await own_openai.files.create(file=(f"t{n}.txt", b"x"), purpose="assistants")
            foreign.append(theirs.id)
    since = time.time()
    policy = CleanupPolicy(file_max_age_seconds=0, pages_per_execution=1, timeouts=QUICK)
    workflow_id = f"sweep-{uuid.uuid4()}"
    async with build_worker(client, cleanup_settings):
        report = await client.execute_workflow(
            Cleanup.run, policy, id=workflow_id, task_queue=task_queue
        )
    logged = httpx.get(f"{own_api.admin_url}/requests", params={"since": since}).json()["data"]
    deletes = Counter(r["path"].rsplit("/", 1)[1] for r in logged if r["method"] == "DELETE")
    assert [deletes[file_id] for file_id in ours] == [1] * len(ours)
    assert not set(deletes) & set(foreign)
    assert [i.id for i in report.deleted].count(ours[0]) == 1
    assert set(ours) <= ids(report, "files")
    assert report.deleted_count == len(report.deleted) == sum(deletes.values())
    skipped = Counter(i.id for i in report.skipped if i.reason == FOREIGN)
    assert [skipped[file_id] for file_id in foreign] == [1] * len(foreign)  # reported once
    for file_id in foreign:
        assert await exists(own_openai.files.retrieve(file_id))
    executions = [e async for e in client.list_workflows(f'WorkflowId = "{workflow_id}"')]
    assert len(executions) >= 3


async def _scheduled_result(client: Client, schedule_id: str) -> CleanupReport:
    for _ in range(100):
        recent = (await client.get_schedule_handle(schedule_id).describe()).info.recent_actions
        if recent:
            workflow_id = recent[-1].action.workflow_id  # type: ignore[attr-defined]
            handle = client.get_workflow_handle_for(Cleanup.run, workflow_id)
            return await handle.result()
        await asyncio.sleep(0.1)
    raise AssertionError("the schedule never started the cleanup")


async def test_an_overlapping_execution_is_skipped(
    client: Client,
    task_queue: str,
    cleanup_settings: Settings,
    own_openai: AsyncOpenAI,
    own_api: BackgroundEmulator,
) -> None:
    for n in range(3):
        await our_file(own_openai, f"old{n}.txt")
    counters = Counters(own_api)
    slow = {
        "faults": [{"latency": 1.0, "route": "^DELETE /v1/files"}],
        "api_key": API_KEY,
        "timings": FAST.model_dump(),
    }
    httpx.put(f"{own_api.admin_url}/config", json=slow).raise_for_status()
    schedule_id = f"cleanup-{uuid.uuid4().hex[:8]}"
    try:
        async with build_worker(client, cleanup_settings):
            policy = CleanupPolicy(file_max_age_seconds=0)
            await schedule_command(cleanup_settings, policy, every=3600, schedule_id=schedule_id)
            schedule = client.get_schedule_handle(schedule_id)
            await schedule.trigger()
            await until_counted(counters, "faults_injected", "latency")  # it is deleting
            await schedule.trigger()
            report = await _scheduled_result(client, schedule_id)
            info = (await schedule.describe()).info
            await schedule.delete()
    finally:
        normal = {"api_key": API_KEY, "timings": FAST.model_dump()}
        httpx.put(f"{own_api.admin_url}/config", json=normal).raise_for_status()
    assert info.num_actions_skipped_overlap == 1
    assert len(info.recent_actions) == 1
    assert len(ids(report, "files")) >= 3


async def test_a_worker_killed_mid_sweep_finishes_on_the_next_attempt(
    client: Client,
    task_queue: str,
    cleanup_settings: Settings,
    own_openai: AsyncOpenAI,
    own_api: BackgroundEmulator,
    temporal_address: str,
    worker_process: list[subprocess.Popen[bytes]],
) -> None:
    created = [await our_file(own_openai, f"sweep{n}.txt") for n in range(40)]
    counters = Counters(own_api)
    slow = {
        "faults": [{"latency": 0.1, "route": "^DELETE /v1/files"}],
        "api_key": API_KEY,
        "timings": FAST.model_dump(),
    }
    httpx.put(f"{own_api.admin_url}/config", json=slow).raise_for_status()
    try:
        worker_process.append(spawn_worker(cleanup_settings, temporal_address))
        handle = await client.start_workflow(
            Cleanup.run,
            CleanupPolicy(file_max_age_seconds=0, timeouts=QUICK),
            id=f"sweep-{uuid.uuid4()}",
            task_queue=task_queue,
        )
        await until_counted(counters, "faults_injected", "latency", at_least=10)  # mid-sweep
        worker_process[0].kill()
        worker_process[0].wait()
        worker_process.append(spawn_worker(cleanup_settings, temporal_address))
        report = await asyncio.wait_for(handle.result(), timeout=120)
    finally:
        normal = {"api_key": API_KEY, "timings": FAST.model_dump()}
        httpx.put(f"{own_api.admin_url}/config", json=normal).raise_for_status()
    assert set(created) <= ids(report, "files")
    assert report.failed == []
    for file_id in created:
        assert not await exists(own_openai.files.retrieve(file_id))


@both_backends
async def test_a_threads_generated_files_go_with_it_and_the_uploaded_csv_stays(
    backend: str,
    client: Client,
    task_queue: str,
    cleanup_settings: Settings,
    own_openai: AsyncOpenAI,
) -> None:
    async with build_worker(client, cleanup_settings):
        request = await chart_request(backend, own_openai, None, "Chart the totals by month")
        result = await run(client, task_queue, request)
        [attachment] = request.messages[0].attachments
        query = f'TaskQueue = "{task_queue}"'
        policy = CleanupPolicy(thread_max_age_seconds=0, workflow_query=query)
        report = await run_once(cleanup_settings, policy)
    assert result.thread_id in ids(report, "threads")
    assert len(result.files) == 2
    for file in result.files:
        if file.container_id is not None:
            assert not await exists(own_openai.containers.retrieve(file.container_id))
        else:
            assert not await exists(own_openai.files.retrieve(file.file_id))
    assert await exists(own_openai.files.retrieve(attachment.file_id)), "the caller's upload"


@pytest.mark.parametrize("backend", ["responses"], indirect=True)
async def test_a_container_the_caller_named_survives_the_cleanup_of_its_thread(
    backend: str,
    client: Client,
    task_queue: str,
    cleanup_settings: Settings,
    own_openai: AsyncOpenAI,
) -> None:
    upload = await own_openai.files.create(
        file=("sales.csv", SALES.read_bytes()), purpose="assistants"
    )
    theirs = await own_openai.containers.create(name="analysis", file_ids=[upload.id])
    tool = {"type": "code_interpreter", "container": theirs.id}
    request = RunRequest.model_validate(
        {
            "backend": "responses",
            "assistant": {"name": "analyst", "model": "gpt-4o", "tools": [tool]},
            "messages": [{"content": "Chart the totals by month"}],
        }
    )
    async with build_worker(client, cleanup_settings):
        result = await run(client, task_queue, request)
        query = f'TaskQueue = "{task_queue}"'
        report = await run_once(
            cleanup_settings, CleanupPolicy(thread_max_age_seconds=0, workflow_query=query)
        )
    assert [f.container_id for f in result.files] == [theirs.id, theirs.id]
    assert result.thread_id in ids(report, "threads")
    assert await exists(own_openai.containers.retrieve(theirs.id))
