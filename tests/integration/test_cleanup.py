"""Cleanup: scheduled, policy-bound deletion of threads, vector stores and files."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx2 as httpx
import openai as openai_sdk
import pytest
from openai import AsyncOpenAI
from temporalio.client import Client

from emulator.config import EmulatorConfig
from emulator.server import BackgroundEmulator
from tests.integration.conftest import API_KEY, FAST, ask, run, spawn_worker
from workers.cleanup_cli import run_once, schedule_command
from workers.client import send_message
from workers.settings import Settings
from workers.worker import build_worker
from workflows.cleanup.workflow import Cleanup
from workflows.contracts import CleanupPolicy, CleanupReport, RunTimeouts, ThreadConfig

QUICK = RunTimeouts(heartbeat_seconds=1, api_initial_retry_seconds=0.05)


@pytest.fixture(scope="module")
def own_api() -> Iterator[BackgroundEmulator]:
    """An emulator of its own: cleanup deletes everything old in it."""
    with BackgroundEmulator(EmulatorConfig(api_key=API_KEY, timings=FAST)) as server:
        yield server


@pytest.fixture
def cleanup_settings(settings: Settings, own_api: BackgroundEmulator) -> Settings:
    return settings.model_copy(update={"openai_base_url": own_api.base_url})


@pytest.fixture
async def own_openai(own_api: BackgroundEmulator) -> AsyncIterator[AsyncOpenAI]:
    async with AsyncOpenAI(base_url=own_api.base_url, api_key=API_KEY) as client:
        yield client


async def exists(check: object) -> bool:
    try:
        await check  # type: ignore[misc]
    except openai_sdk.NotFoundError:
        return False
    return True


def ids(report: CleanupReport, kind: str) -> set[str]:
    return {item.id for item in report.deleted if item.kind == kind}


async def test_a_scheduled_cleanup_deletes_only_what_the_policy_names(
    client: Client, task_queue: str, cleanup_settings: Settings, own_openai: AsyncOpenAI
) -> None:
    async with build_worker(client, cleanup_settings):
        assistant = await own_openai.beta.assistants.create(model="gpt-4o")
        done = [await run(client, task_queue, ask(assistant.id, f"Hi {n}")) for n in range(2)]
        old_threads = {r.thread_id for r in done}
        thread_cfg = ThreadConfig(key=uuid.uuid4().hex[:8], assistant_id=assistant.id)
        kept_thread = (await send_message(client, task_queue, thread_cfg, "Still open")).thread_id
        team_x = await own_openai.vector_stores.create(name="x", metadata={"team": "x"})
        team_y = await own_openai.vector_stores.create(name="y", metadata={"team": "y"})
        in_use = await own_openai.vector_stores.create(name="used", metadata={"team": "x"})
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
            (kept_thread, "open workflow"),
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
        await own_openai.files.create(file=(f"old{n}.txt", b"old"), purpose="assistants")
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
            await asyncio.sleep(0.5)
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
    created = [
        (await own_openai.files.create(file=(f"sweep{n}.txt", b"x"), purpose="assistants")).id
        for n in range(40)
    ]
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
        await asyncio.sleep(2.0)  # mid-sweep
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
