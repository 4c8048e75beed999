"""Where a run shows in Temporal's visibility now that it writes search attributes only where
people search for them: waiting for an approval, once that wait ends, and at its end. And a
responses run's tool names, checked by its start instead of a step of their own."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from tests.integration.conftest import (
    Assistant,
    Counters,
    ask,
    both_backends,
    start,
    until,
)
from tests.integration.test_approvals import decide, refund, waiting


async def listed(client: Client, query: str) -> None:
    """Wait until visibility (eventually consistent) lists a workflow for `query`."""
    for _ in range(200):
        if (await client.count_workflows(query)).count == 1:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"nothing listed for {query}")


@both_backends
async def test_a_run_waiting_for_approval_is_found_by_its_phase_until_decided(
    client: Client, task_queue: str, worker: None, assistant: Assistant
) -> None:
    handle = await start(client, task_queue, ask(assistant, refund(f"V-{uuid.uuid4().hex[:6]}")))
    [call] = (await waiting(handle)).pending_approvals
    this = f'WorkflowId = "{handle.id}"'
    await listed(client, f'{this} AND RunPhase = "awaiting_approval"')
    await decide(handle, call.id, True)
    result = await handle.result()
    ended = f'{this} AND RunPhase = "completed" AND OpenAIRunId = "{result.run_id}"'
    if isinstance(assistant, dict):  # responses: the thread is searched by its first response
        assert result.thread_root not in (None, result.thread_id)  # a tool round came after
    await listed(client, f'{ended} AND OpenAIThreadId = "{result.thread_root or result.thread_id}"')
    assert (await client.count_workflows(f'{this} AND RunPhase = "awaiting_approval"')).count == 0


@both_backends
async def test_a_running_run_upserts_nothing_until_it_ends(
    client: Client, task_queue: str, worker: None, assistant: Assistant
) -> None:
    handle = await start(client, task_queue, ask(assistant, 'call slow_lookup with {"seconds": 1}'))
    await until(handle, lambda s: s.phase == "running_tools")  # the live phase: a query
    await handle.result()
    upserted = [
        set(e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields)
        for e in (await handle.fetch_history()).events
        if e.HasField("upsert_workflow_search_attributes_event_attributes")
    ]
    assert [("RunPhase" in fields) for fields in upserted] == [True]  # no version patch's


@pytest.mark.parametrize(
    ("tools", "approval_required_for"),
    [(["get_weather", "no_such_tool"], []), (["get_weather"], ["no_such_tool"])],
    ids=["assistant.tools", "approval_required_for"],
)
async def test_a_responses_run_naming_an_unregistered_tool_fails_before_any_request(
    client: Client,
    task_queue: str,
    worker: None,
    counters: Counters,
    tools: list[str],
    approval_required_for: list[str],
) -> None:
    assistant: Assistant = {"name": "v", "model": "gpt-4o", "tools": tools}
    request = ask(
        assistant,
        "Hello",
        backend="responses",
        approval_required_for=approval_required_for,
    )
    with pytest.raises(WorkflowFailureError) as failure:
        await (await start(client, task_queue, request)).result()
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "InvalidRunRequest"
    assert "no registered tool named 'no_such_tool' (registered: " in cause.message
    assert counters.delta("requests", "POST /v1/responses 200") == 0
