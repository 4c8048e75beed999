"""Old and new code side by side: a workflow reads the result of an activity from a newer
version (an extra field), and a conversation continues from a carry a newer version wrote."""

from __future__ import annotations

import uuid

from temporalio.client import Client

from tests.integration.conftest import ask
from tests.upgrade.newer_activities import with_v2_start
from workers.client import send_message, thread_workflow_id
from workers.settings import Settings
from workers.wiring import project_activities
from workers.worker import build_worker
from workflows.contracts import ThreadConfig
from workflows.thread.workflow import AssistantThread


async def test_a_run_reads_a_newer_activitys_result_with_a_field_it_does_not_know(
    client: Client, settings: Settings, task_queue: str, assistant_id: str
) -> None:
    async with build_worker(
        client, settings, activities=with_v2_start(project_activities(settings, task_queue, client))
    ):
        handle = await client.start_workflow(
            "AssistantRun",
            ask(assistant_id, "What is the weather in Rome?"),
            id=f"evolution-{uuid.uuid4()}",
            task_queue=task_queue,
        )
        result = await handle.result()
    assert result["status"] == "completed"
    assert result["tool_calls"][0]["name"] == "get_weather"


async def test_a_conversation_continues_from_a_carry_a_newer_version_wrote(
    client: Client, task_queue: str, worker: None, assistant_id: str
) -> None:
    key = uuid.uuid4().hex[:12]
    carry = {
        "key": key,
        "assistant_id": assistant_id,
        "priority": "high",  # a config field of a newer version
        "carried": {
            "thread_id": None,
            "queue": [],
            "next_message_id": 4,
            "runs_done": 3,
            "recent": [],
            "token_budget_left": 1000,  # a carry field of a newer version
        },
    }
    await client.start_workflow(
        "AssistantThread", carry, id=thread_workflow_id(key), task_queue=task_queue
    )
    config = ThreadConfig(key=key, assistant_id=assistant_id)
    answer = await send_message(client, task_queue, config, "What is the weather in Oslo?")
    assert answer.status == "completed"
    handle = client.get_workflow_handle_for(AssistantThread.run, thread_workflow_id(key))
    state = await handle.query(AssistantThread.state)
    assert (state.runs_done, state.recent[-1].message_id) == (4, 4)
