"""One caller's bad message never fails a conversation others share: a message whose
overrides make no valid run is refused (update) or dropped and counted with its reason
(signal), and one that a `configure` made invalid while it waited is answered `failed`."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from tests.integration.conftest import Assistant, both_backends
from tests.integration.test_thread import config
from workers.client import post_message, send_message, thread_workflow_id
from workflows.contracts import ConfigureThread, ThreadConfig, ThreadMessage
from workflows.thread.requests import INVALID_MESSAGE
from workflows.thread.workflow import AssistantThread

pytestmark = both_backends

BAD = [
    ({"temperature": 99}, "overrides.temperature"),
    ({"model": "gpt-4o-mini"}, "fallback_models"),  # the defaults' fallback, as its own model
    ({"max_tool_rounds": -1}, "overrides.max_tool_rounds"),
]


def with_fallback(assistant: Assistant) -> ThreadConfig:
    return config(assistant, defaults={"fallback_models": ["gpt-4o-mini"]})


@pytest.mark.parametrize(("overrides", "field"), BAD)
async def test_a_message_that_makes_no_valid_run_is_refused_naming_the_field(
    client: Client,
    task_queue: str,
    worker: None,
    assistant: Assistant,
    overrides: dict[str, object],
    field: str,
) -> None:
    thread = with_fallback(assistant)
    bad = ThreadMessage(content="Hello", overrides=overrides)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await send_message(client, task_queue, thread, bad)
    cause = refused.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == INVALID_MESSAGE
    assert cause.message.startswith(field), cause.message
    handle = await post_message(client, task_queue, thread, bad)  # a signal cannot be refused
    answered = await send_message(client, task_queue, thread, "Still there?")
    assert answered.status == "completed"
    state = await handle.query(AssistantThread.state)
    assert (state.runs_done, state.refused_messages) == (1, 1)
    assert state.last_refused is not None
    assert field in state.last_refused
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING


async def test_a_message_a_configure_made_invalid_while_it_waited_is_answered_failed(
    client: Client, task_queue: str, worker: None, assistant: Assistant
) -> None:
    thread = config(assistant)
    handle = await post_message(client, task_queue, thread, "Slow one [[emulator queued=2]]")
    waiting = asyncio.ensure_future(
        send_message(
            client,
            task_queue,
            thread,
            ThreadMessage(content="Hi", overrides={"model": "gpt-4o-mini"}),
        )
    )
    for _ in range(100):  # queued behind the slow one
        if (await handle.query(AssistantThread.state)).queue_length:
            break
        await asyncio.sleep(0.05)
    target = {"assistant_id": assistant} if isinstance(assistant, str) else {"assistant": assistant}
    configure = ConfigureThread.model_validate(
        {**target, "defaults": {"fallback_models": ["gpt-4o-mini"]}}
    )
    await handle.execute_update(AssistantThread.configure, configure)
    answer = await asyncio.wait_for(waiting, 30)
    assert answer.status == "failed"
    assert answer.last_error is not None
    assert answer.last_error.code == "invalid_message"
    assert "fallback_models" in answer.last_error.message
    after = await send_message(client, task_queue, thread, "And now?")
    assert after.status == "completed"
    assert (await handle.query(AssistantThread.state)).runs_done == 2
    described = await client.get_workflow_handle(thread_workflow_id(thread.key)).describe()
    assert described.status == WorkflowExecutionStatus.RUNNING
