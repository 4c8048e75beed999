"""What cleanup and a closing conversation delete of a thread: on the responses backend a chain
is in use while any of its responses is held (an open conversation holds its first turns
too), and a conversation deletes only what its own runs made, never what it continued from
another conversation."""

from __future__ import annotations

import asyncio
import uuid

import openai as openai_sdk
from openai import AsyncOpenAI
from temporalio.client import Client

from emulator.server import BackgroundEmulator
from tests.integration.conftest import Assistant, Counters, Seen, ask, both_backends, run, start
from tests.integration.visibility_lag import blind_to_marks
from workers.cli.cleanup import run_once
from workers.client import send_message, thread_workflow_id
from workers.settings import Settings
from workers.worker import build_worker
from workflows.contracts import CleanupPolicy, CloseThread, RunResult, ThreadConfig
from workflows.thread.workflow import AssistantThread

SPEC = {"name": "chains", "model": "gpt-4o", "tools": ["get_weather"]}


async def chain(openai: AsyncOpenAI, head: str) -> list[str]:
    """The ids of the responses from `head` back to the first, while they exist."""
    ids: list[str] = []
    response_id: str | None = head
    while response_id is not None:
        try:
            response = await openai.responses.retrieve(response_id)
        except openai_sdk.NotFoundError:
            break
        ids.append(response.id)
        response_id = response.previous_response_id
    return ids


def policy_on(task_queue: str) -> CleanupPolicy:
    return CleanupPolicy(thread_max_age_seconds=0, workflow_query=f'TaskQueue = "{task_queue}"')


async def test_cleanup_keeps_every_turn_of_an_open_conversation_and_deletes_it_once_closed(
    client: Client, task_queue: str, cleanup_settings: Settings, own_openai: AsyncOpenAI
) -> None:
    conversation = ThreadConfig.model_validate(
        {"key": uuid.uuid4().hex[:8], "assistant": SPEC, "backend": "responses"}
    )
    async with build_worker(client, cleanup_settings):
        first = await send_message(client, task_queue, conversation, "My name is Ada")
        second = await send_message(client, task_queue, conversation, "weather in Oslo")
        assert second.thread_id is not None
        whole = await chain(own_openai, second.thread_id)
        assert first.thread_id in whole
        assert len(whole) == 3  # the first turn; the second: its tool call and its answer
        await run_once(cleanup_settings, policy_on(task_queue))
        assert await chain(own_openai, second.thread_id) == whole  # nothing went, open
        handle = client.get_workflow_handle_for(
            AssistantThread.run, thread_workflow_id(conversation.key)
        )
        await handle.execute_update(AssistantThread.close, CloseThread())
        await handle.result()
        report = await run_once(cleanup_settings, policy_on(task_queue))
    assert [item.id for item in report.deleted] == [whole[-1]]  # its first response
    assert await chain(own_openai, second.thread_id) == []


@both_backends
async def test_closing_a_conversation_that_adopted_anothers_thread_deletes_only_its_own(
    backend: str,
    client: Client,
    task_queue: str,
    cleanup_settings: Settings,
    own_openai: AsyncOpenAI,
    own_api: BackgroundEmulator,
) -> None:
    seen = Seen(backend, Counters(own_api), own_openai)
    target: dict[str, object]
    if backend == "assistants":
        target = {"assistant_id": (await own_openai.beta.assistants.create(model="gpt-4o")).id}
    else:
        target = {"assistant": SPEC}
    owner = ThreadConfig.model_validate({"key": uuid.uuid4().hex[:8], **target})
    async with build_worker(client, cleanup_settings):
        theirs: RunResult = await send_message(client, task_queue, owner, "My name is Ada")
        adopter = ThreadConfig.model_validate(
            {
                "key": uuid.uuid4().hex[:8],
                **target,
                "thread_id": theirs.thread_id,
                "delete_thread_when_done": True,
            }
        )
        mine = await send_message(client, task_queue, adopter, "What is my name?")
        handle = client.get_workflow_handle_for(
            AssistantThread.run, thread_workflow_id(adopter.key)
        )
        await handle.execute_update(AssistantThread.close, CloseThread())
        await asyncio.wait_for(handle.result(), 30)
        still = await send_message(client, task_queue, owner, "Do you remember me?")
    assert theirs.thread_id is not None
    assert await seen.thread_exists(theirs.thread_id)
    assert still.status == "completed"
    users = [text for role, text in await seen.conversation(still) if role == "user"]
    assert users[:1] == ["My name is Ada"]
    if backend == "responses":  # its own turn went; the owner's stayed
        assert mine.thread_id is not None
        assert not await seen.thread_exists(mine.thread_id)


async def test_a_conversations_thread_is_kept_while_the_index_has_not_seen_its_mark(
    client: Client, task_queue: str, cleanup_settings: Settings, own_openai: AsyncOpenAI
) -> None:
    conversation = ThreadConfig.model_validate(
        {"key": uuid.uuid4().hex[:8], "assistant": SPEC, "backend": "responses"}
    )
    async with build_worker(client, cleanup_settings):
        answered = await send_message(client, task_queue, conversation, "My name is Ada")
    assert answered.thread_id is not None
    async with build_worker(blind_to_marks(client), cleanup_settings):
        report = await run_once(cleanup_settings, policy_on(task_queue))
    assert report.deleted == []
    assert await chain(own_openai, answered.thread_id) == [answered.thread_id]


@both_backends
async def test_a_run_continuing_a_thread_holds_it_from_its_start(
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
        target = SPEC
    async with build_worker(client, cleanup_settings):
        first = await run(client, task_queue, ask(target, "My name is Ada"))
        assert first.thread_id is not None
        later = ask(target, "What is my name? [[emulator queued=3]]", thread_id=first.thread_id)
        handle = await start(client, task_queue, later)
        await seen.until_run_created(handle)
        report = await run_once(cleanup_settings, policy_on(task_queue))
        result = await handle.result()
    assert first.thread_id not in {item.id for item in report.deleted}
    assert result.status == "completed"
    assert await seen.thread_exists(first.thread_id)
