"""A conversation reopened after a close carries on from the execution that closed, looked up
by id, never by the visibility index alone (which lags): its thread, run numbers and token
budget; and only an execution of the same tenant is taken over."""

from __future__ import annotations

import asyncio
import uuid

import httpx2 as httpx
from temporalio.client import Client

from tests.integration.conftest import Assistant, Seen, both_backends
from tests.integration.test_gateway import conversation_config
from tests.integration.test_thread import config
from tests.integration.visibility_lag import lagging
from workers.client import send_message, thread_workflow_id
from workers.settings import Settings
from workers.worker import build_worker
from workflows.contracts import ThreadConfig
from workflows.thread.workflow import AssistantThread


@both_backends
async def test_a_message_right_after_an_idle_close_carries_on_while_the_index_lags(
    client: Client, task_queue: str, settings: Settings, assistant: Assistant, seen: Seen
) -> None:
    thread = config(assistant, idle_timeout_seconds=1, token_budget=100_000)
    async with build_worker(lagging(client, seconds=120), settings):
        first = await send_message(client, task_queue, thread, "My name is Ada")
        handle = client.get_workflow_handle_for(AssistantThread.run, thread_workflow_id(thread.key))
        closed = await asyncio.wait_for(handle.result(), 20)
        second = await send_message(client, task_queue, thread, "What is my name?")
        state = await handle.query(AssistantThread.state)
    assert (state.runs_done, [r.workflow_id.rsplit("/", 1)[1] for r in state.recent]) == (
        2,
        ["run-1", "run-2"],
    )
    assert state.tokens_used == closed.tokens_used + second.usage.total_tokens
    if isinstance(assistant, str):
        assert second.thread_id == first.thread_id
    users = [text for role, text in await seen.conversation(second) if role == "user"]
    assert users == ["My name is Ada", "What is my name?"]


async def test_a_tenant_never_takes_over_a_cli_conversation_of_the_same_workflow_id(
    acme: httpx.AsyncClient, client: Client, task_queue: str
) -> None:
    assistant = {"name": "vault", "model": "gpt-4o"}
    key = f"k{uuid.uuid4().hex[:8]}"
    cli = ThreadConfig.model_validate(
        {"key": f"acme.{key}", "idle_timeout_seconds": 1, **conversation_config(assistant)}
    )
    secret = await send_message(client, task_queue, cli, "The vault code is 4711")
    handle = client.get_workflow_handle_for(AssistantThread.run, thread_workflow_id(cli.key))
    await asyncio.wait_for(handle.result(), 20)
    body = {
        "message": {"content": "What is the vault code?"},
        "config": conversation_config(assistant),
    }
    answered = await acme.post(f"/v1/conversations/{key}/messages", json=body)
    assert answered.status_code == 200, answered.text
    assert answered.json()["thread_id"] != secret.thread_id
    state = (await acme.get(f"/v1/conversations/{key}")).json()
    assert state["runs_done"] == 1
    assert "4711" not in answered.json()["output_text"]
