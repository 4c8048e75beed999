"""Worker Deployment versioning: a run stays on the version it started on while a new version
becomes current; a conversation moves to the new version at its next message."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from temporalio.api.enums.v1 import VersioningBehavior
from temporalio.api.workflowservice.v1 import SetWorkerDeploymentCurrentVersionRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from tests.integration.conftest import ask, until
from tests.integration.test_thread import config
from workers.client import send_message, start_run, thread_workflow_id
from workers.settings import Settings, SettingsError, load_settings
from workers.worker import build_worker


def versioned(settings: Settings, deployment: str, build_id: str) -> Settings:
    return settings.model_copy(
        update={"worker_deployment_name": deployment, "worker_build_id": build_id}
    )


async def make_current(client: Client, deployment: str, build_id: str) -> None:
    """Set the current version once its worker has polled (the server knows it then)."""
    request = SetWorkerDeploymentCurrentVersionRequest(
        namespace=client.namespace, deployment_name=deployment, build_id=build_id
    )
    for _ in range(100):
        try:
            await client.workflow_service.set_worker_deployment_current_version(request)
            return
        except RPCError:  # the version is not registered yet
            await asyncio.sleep(0.1)
    raise AssertionError(f"{deployment}/{build_id} never became current")


async def build_of(handle: WorkflowHandle[Any, Any]) -> tuple[str, int]:
    info = (await handle.describe()).raw_description.workflow_execution_info.versioning_info
    return info.deployment_version.build_id, info.behavior


async def test_a_run_finishes_on_its_version_and_a_conversation_moves_to_the_new_one(
    client: Client, settings: Settings, task_queue: str, assistant_id: str
) -> None:
    deployment = f"da-{uuid.uuid4().hex[:8]}"
    thread = config(assistant_id)
    async with build_worker(client, versioned(settings, deployment, "v1")):
        await make_current(client, deployment, "v1")
        answered = await send_message(client, task_queue, thread, "Hello")
        assert answered.status == "completed"
        slow = ask(assistant_id, "What is the weather in Rome? [[emulator in_progress=3]]")
        old_run = await start_run(client, task_queue, slow)
        await until(old_run, lambda state: state.run_attempts == 1)
        async with build_worker(client, versioned(settings, deployment, "v2")):
            await make_current(client, deployment, "v2")
            new_run = await start_run(client, task_queue, ask(assistant_id, "Hi"))
            assert (await new_run.result()).status == "completed"
            assert (await old_run.result()).status == "completed"
            await send_message(client, task_queue, thread, "Hello again")
    conversation = client.get_workflow_handle(thread_workflow_id(thread.key))
    assert await build_of(old_run) == ("v1", VersioningBehavior.VERSIONING_BEHAVIOR_PINNED)
    assert await build_of(new_run) == ("v2", VersioningBehavior.VERSIONING_BEHAVIOR_PINNED)
    assert await build_of(conversation) == (
        "v2",
        VersioningBehavior.VERSIONING_BEHAVIOR_AUTO_UPGRADE,
    )


def test_a_deployment_name_without_a_build_id_is_refused() -> None:
    with pytest.raises(SettingsError, match="WORKER_DEPLOYMENT_NAME, WORKER_BUILD_ID"):
        load_settings(worker_deployment_name="durable-assistants")
