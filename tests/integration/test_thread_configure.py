"""A conversation is not stuck with its first configuration: `configure` switches who answers,
a failed first message leaves no API thread behind, and updates whose contracts have defaults
need no input."""

from __future__ import annotations

import pytest
from openai import AsyncOpenAI
from temporalio.client import Client, WorkflowFailureError, WorkflowUpdateFailedError

from tests.integration.conftest import Assistant, Counters, ask, both_backends, start, until
from tests.integration.test_thread import config
from tests.integration.test_thread_edges import handle_of
from workers.client import configure_thread, send_message
from workflows.contracts import ConfigureThread, RunRequest, RunState, ThreadState


@pytest.mark.parametrize("backend", ["assistants"], indirect=True)
async def test_a_conversation_whose_assistant_is_wrong_is_reconfigured_and_leaves_no_thread(
    client: Client, task_queue: str, worker: None, assistant: Assistant, counters: Counters
) -> None:
    thread = config("asst_does_not_exist")
    failed = await send_message(client, task_queue, thread, "What is the weather in Oslo?")
    assert failed.status == "failed"
    assert failed.last_error is not None
    assert "asst_does_not_exist" in failed.last_error.message
    created = counters.delta("requests", "POST /v1/threads 200")
    deleted = counters.delta("requests", "DELETE /v1/threads/{thread_id} 200")
    assert (created, deleted) == (1, 1), "the failed first message leaves no API thread"

    assert isinstance(assistant, str)
    state = await configure_thread(client, thread.key, ConfigureThread(assistant_id=assistant))
    assert state.assistant_id == assistant
    answered = await send_message(client, task_queue, thread, "What is the weather in Oslo?")
    assert answered.status == "completed"
    assert answered.assistant_id == assistant


@pytest.mark.parametrize("backend", ["responses"], indirect=True)
async def test_configure_refuses_what_the_conversations_backend_cannot_do(
    client: Client, task_queue: str, worker: None, assistant: Assistant
) -> None:
    thread = config(assistant)
    await send_message(client, task_queue, thread, "Hello")
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await configure_thread(client, thread.key, ConfigureThread(assistant_id="asst_1"))
    assert "assistant_id" in str(refused.value.cause)
    state = await handle_of(client, thread).query("state", result_type=ThreadState)
    assert state.assistant is not None, "nothing changed"
    assert state.assistant_id is None


def test_configure_names_exactly_one_assistant() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        ConfigureThread()
    with pytest.raises(ValueError, match="exactly one"):
        ConfigureThread(assistant_id="asst_1", prompt={"id": "pmpt_1"})


@both_backends
async def test_close_and_cancel_need_no_input(
    client: Client, task_queue: str, worker: None, assistant: Assistant
) -> None:
    thread = config(assistant)
    await send_message(client, task_queue, thread, "Hello")
    closed = await handle_of(client, thread).execute_update("close", result_type=ThreadState)
    assert closed.closing
    handle = await start(client, task_queue, ask(assistant, "Hi [[emulator queued=30]]"))
    await until(handle, lambda s: s.phase != "creating" or s.run_attempts == 1)
    cancelled = await handle.execute_update("cancel", result_type=RunState)
    assert cancelled.phase == "cancelled"
    assert (await handle.result()).cancel_reason == "cancelled on request"


@pytest.mark.parametrize("backend", ["assistants"], indirect=True)
async def test_a_reconfigured_conversation_keeps_its_assistant_through_continue_as_new(
    client: Client, task_queue: str, worker: None, assistant: Assistant
) -> None:
    assert isinstance(assistant, str)
    thread = config("asst_does_not_exist", runs_before_continue_as_new=1)
    assert (await send_message(client, task_queue, thread, "Hello")).status == "failed"
    await configure_thread(client, thread.key, ConfigureThread(assistant_id=assistant))
    first = await send_message(client, task_queue, thread, "Hello again")  # then continues
    after = await send_message(client, task_queue, thread, "And once more")
    assert (first.status, after.status) == ("completed", "completed")
    assert after.assistant_id == assistant, "the carry holds the configured assistant"


@pytest.mark.parametrize("backend", ["assistants"], indirect=True)
async def test_a_failed_run_keeps_a_thread_it_was_given(
    client: Client, task_queue: str, worker: None, openai: AsyncOpenAI
) -> None:
    mine = await openai.beta.threads.create()
    request = RunRequest.model_validate(
        {"assistant_id": "asst_none", "thread_id": mine.id, "messages": [{"content": "Hi"}]}
    )
    handle = await start(client, task_queue, request)
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    assert (await openai.beta.threads.retrieve(mine.id)).id == mine.id, "the user's thread stays"
