"""Worker Deployment versioning: a run stays on the version it started on while a new version
becomes current; a conversation moves to the new version at its next message."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from temporalio.api.enums.v1 import VersioningBehavior
from temporalio.client import Client, WorkflowHandle

from tests.integration.conftest import ask, until
from tests.integration.test_thread import config
from tests.upgrade.drill import make_current
from workers.client import send_message, start_run, thread_workflow_id
from workers.settings import Settings, SettingsError, load_settings
from workers.worker import build_worker


def versioned(settings: Settings, deployment: str, build_id: str) -> Settings:
    return settings.model_copy(
        update={"worker_deployment_name": deployment, "worker_build_id": build_id}
    )


async def build_of(handle: WorkflowHandle[Any, Any]) -> tuple[str, int]:
    info = (await handle.describe()).raw_description.workflow_execution_info.versioning_info
    return info.deployment_version.build_id, info.behavior


async def test_a_run_finishes_on_its_version_and_a_conversation_moves_to_the_new_one(
    client: Client, settings: Settings, task_queue: str, assistant_id: str
) -> None:
    deployment = f"da-{uuid.uuid4().hex[:8]}"
    thread = config(assistant_id)
    async with build_worker(client, versioned(settings, deployment, "v1")):
        await make_current(client, "v1", deployment)
        answered = await send_message(client, task_queue, thread, "Hello")
        assert answered.status == "completed"
        slow = ask(assistant_id, "What is the weather in Rome? [[emulator in_progress=3]]")
        old_run = await start_run(client, task_queue, slow)
        await until(old_run, lambda state: state.run_attempts == 1)
        async with build_worker(client, versioned(settings, deployment, "v2")):
            await make_current(client, "v2", deployment)
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
