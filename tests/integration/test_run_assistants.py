"""AssistantRun on the Assistants API only: the API's own expiry, active-run conflicts, the
prompt budget, and what the responses backend refuses."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from openai import AsyncOpenAI
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from activities.run.assistants_messages import run_message
from emulator.config import FaultRule
from tests.integration.conftest import Counters, ask, run
from workflows.contracts import RunRequest

LIST_MESSAGES = "GET /v1/threads/{thread_id}/messages 200"


async def test_a_run_past_the_apis_expiry_is_expired(
    client: Client, task_queue: str, worker: None, assistant_id: str
) -> None:
    request = ask(assistant_id, "Hello [[emulator queued=30 expires_in=0.5]]")
    result = await run(client, task_queue, request)
    assert result.status == "expired"


async def test_tools_outliving_the_run_end_it_expired_with_the_calls_recorded(
    client: Client, task_queue: str, worker: None, assistant_id: str
) -> None:
    text = 'call slow_lookup with {"seconds": 30} [[emulator expires_in=1]]'
    result = await run(client, task_queue, ask(assistant_id, text))
    assert result.status == "expired"
    [call] = result.tool_calls
    assert (call.name, call.error) == ("slow_lookup", "run_expired")


async def test_a_prompt_over_max_prompt_tokens_is_incomplete(
    client: Client, task_queue: str, worker: None, assistant_id: str
) -> None:
    request = ask(assistant_id, "Summarise: " + "words " * 400, max_prompt_tokens=256)
    result = await run(client, task_queue, request)
    assert result.status == "incomplete"
    assert result.incomplete_details == {"reason": "max_prompt_tokens"}


async def test_an_existing_thread_gets_the_new_messages(
    client: Client, task_queue: str, worker: None, assistant_id: str, openai: AsyncOpenAI
) -> None:
    thread = await openai.beta.threads.create()
    request = ask(assistant_id, "Say hello to Grace", thread_id=thread.id)
    result = await run(client, task_queue, request)
    assert result.thread_id == thread.id
    listed = [m async for m in openai.beta.threads.messages.list(thread.id, order="asc")]
    assert [m.role for m in listed] == ["user", "assistant"]


@pytest.mark.parametrize("stream_broke", [False, True], ids=["followed", "stream-broke"])
async def test_a_runs_messages_come_from_its_stream_and_are_listed_only_if_it_broke(
    client: Client,
    task_queue: str,
    worker: None,
    assistant_id: str,
    openai: AsyncOpenAI,
    counters: Counters,
    faults: Callable[..., None],
    stream_broke: bool,
) -> None:
    if stream_broke:
        faults(
            FaultRule(drop="stream", after_events=2, times=1, route=r"^POST /v1/threads/.+/runs$")
        )
    request = ask(assistant_id, "Say hello to Grace [[emulator in_progress=0.3]]")
    result = await run(client, task_queue, request)
    assert result.status == "completed"
    assert result.thread_id is not None
    assert result.run_id is not None
    listed = openai.beta.threads.messages.list(result.thread_id, run_id=result.run_id)
    written = [run_message(m) async for m in listed]
    assert [m.text for m in result.messages] == [m.text for m in written] != [""]
    assert result.messages == written
    ours = counters.delta("requests", LIST_MESSAGES) - 1  # (less this test's own listing)
    assert ours == (1 if stream_broke else 0)


@pytest.mark.parametrize(
    ("backend", "fields", "named"),
    [
        ("responses", {"assistant_id": "asst_1"}, "assistant_id: the responses backend has no"),
        ("assistants", {"prompt": {"id": "pmpt_1"}}, "prompt: reusable prompts need"),
    ],
    indirect=["backend"],
)
async def test_what_a_backend_cannot_do_fails_at_once_naming_the_field(
    backend: str,
    fields: dict[str, object],
    named: str,
    client: Client,
    task_queue: str,
    worker: None,
) -> None:
    request = RunRequest.model_validate({**fields, "messages": [{"content": "Hi"}]})
    with pytest.raises(WorkflowFailureError) as failure:
        await run(client, task_queue, request)
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert (cause.type, cause.message.startswith(named)) == ("InvalidRunRequest", True)


async def busy_thread(openai: AsyncOpenAI, assistant_id: str, seconds: float) -> tuple[str, str]:
    thread = await openai.beta.threads.create(
        messages=[{"role": "user", "content": f"Hi [[emulator queued={seconds}]]"}]
    )
    other = await openai.beta.threads.runs.create(thread.id, assistant_id=assistant_id)
    return thread.id, other.id


async def test_active_run_policy_wait_runs_after_the_other_run(
    client: Client, task_queue: str, worker: None, assistant_id: str, openai: AsyncOpenAI
) -> None:
    thread_id, other = await busy_thread(openai, assistant_id, 1)
    request = ask(assistant_id, "Say hello to Ada", thread_id=thread_id, on_active_run="wait")
    result = await run(client, task_queue, request)
    assert result.status == "completed"
    assert result.run_id != other
    other_run = await openai.beta.threads.runs.retrieve(other, thread_id=thread_id)
    assert other_run.status == "completed"


async def test_active_run_policy_cancel_cancels_the_other_run(
    client: Client, task_queue: str, worker: None, assistant_id: str, openai: AsyncOpenAI
) -> None:
    thread_id, other = await busy_thread(openai, assistant_id, 30)
    request = ask(assistant_id, "Say hello to Ada", thread_id=thread_id, on_active_run="cancel")
    result = await run(client, task_queue, request)
    assert result.status == "completed"
    other_run = await openai.beta.threads.runs.retrieve(other, thread_id=thread_id)
    assert other_run.status == "cancelled"


async def test_active_run_policy_fail_fails_clearly_and_adds_nothing(
    client: Client, task_queue: str, worker: None, assistant_id: str, openai: AsyncOpenAI
) -> None:
    thread_id, other = await busy_thread(openai, assistant_id, 30)
    request = ask(assistant_id, "Say hello", thread_id=thread_id, on_active_run="fail")
    with pytest.raises(WorkflowFailureError) as failure:
        await run(client, task_queue, request)
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "ActiveRunConflict"
    assert f"already has an active run {other}" in cause.message
    listed = [m async for m in openai.beta.threads.messages.list(thread_id)]
    assert len(listed) == 1
    await openai.beta.threads.runs.cancel(other, thread_id=thread_id)
