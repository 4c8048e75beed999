"""`durable-assistants status` says something: the API run a run waits on (within a heartbeat
of its creation), the error of a failed run, a conversation's state; and a conversation open
with one assistant refuses a message meant for another."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowFailureError

from tests.integration.conftest import Assistant, both_backends
from tests.integration.conftest import run_cli as cli
from tests.integration.test_thread import config
from workers.client import send_message, thread_workflow_id
from workers.settings import Settings

SPEC = "name: status-desk\nmodel: gpt-4o\ntools: [get_weather]\n"


async def status_of(settings: Settings, workflow_id: str, cwd: Path) -> dict[str, Any]:
    shown = await cli(settings, "status", workflow_id, cwd=cwd)
    assert shown.returncode == 0, shown.stderr
    status: dict[str, Any] = json.loads(shown.stdout)
    return status


@both_backends
async def test_status_shows_the_api_run_while_the_model_works(
    settings: Settings, worker: None, tmp_path: Path
) -> None:
    (tmp_path / "desk.yaml").write_text(SPEC)
    started = await cli(
        settings,
        *("run", "--assistant-file", "desk.yaml", "--no-wait"),
        *("-m", "Hello [[emulator in_progress=30]]"),
        cwd=tmp_path,
    )
    workflow_id = started.stdout.strip()
    for _ in range(100):
        status = await status_of(settings, workflow_id, tmp_path)
        api = [step["api"] for step in status["waiting_on"] if "api" in step]
        if api and api[0]["status"] == "in_progress":
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"the API run never showed: {status}")
    assert status["workflow_status"] == "running"
    assert api[0]["id"].startswith("run_" if settings.openai_backend == "assistants" else "resp_")
    assert status["waiting_on"][0]["step"] == "run.start"
    await cli(settings, "cancel", workflow_id, cwd=tmp_path)


@pytest.mark.parametrize("backend", ["assistants"], indirect=True)
async def test_status_of_a_failed_run_shows_its_error(
    settings: Settings, worker: None, client: Client, tmp_path: Path
) -> None:
    started = await cli(
        settings, "run", "--assistant-id", "asst_nope", "--no-wait", "-m", "Hi", cwd=tmp_path
    )
    workflow_id = started.stdout.strip()
    with pytest.raises(WorkflowFailureError):
        await client.get_workflow_handle(workflow_id).result()
    status = await status_of(settings, workflow_id, tmp_path)
    assert status["workflow_status"] == "failed"
    assert "No assistant found with id 'asst_nope'" in status["error"]


@both_backends
async def test_status_of_a_conversation_and_a_message_for_another_assistant(
    settings: Settings,
    worker: None,
    client: Client,
    task_queue: str,
    assistant: Assistant,
    tmp_path: Path,
) -> None:
    thread = config(assistant)
    await send_message(client, task_queue, thread, "Hello")
    status = await status_of(settings, thread_workflow_id(thread.key), tmp_path)
    assert (status["workflow_type"], status["key"], status["runs_done"]) == (
        "AssistantThread",
        thread.key,
        1,
    )
    (tmp_path / "other.yaml").write_text("name: other-desk\nmodel: gpt-4o\n")
    other = await cli(
        settings, "send", thread.key, "Hi", "--assistant-file", "other.yaml", cwd=tmp_path
    )
    assert other.returncode == 2
    assert f"conversation {thread.key} is answered by" in other.stderr
    assert f"durable-assistants configure {thread.key}" in other.stderr
    switched = await cli(
        settings, "configure", thread.key, "--assistant-file", "other.yaml", cwd=tmp_path
    )
    assert switched.returncode == 0, switched.stderr
    answered = await cli(
        settings, "send", thread.key, "Hi", "--assistant-file", "other.yaml", cwd=tmp_path
    )
    assert answered.returncode == 0, answered.stderr
