"""A conversation's token budget on both backends: messages are answered until its runs
have used it, the next is refused before any API call; what was used survives continue-as-new
and a close (the key's next execution carries on with it)."""

from __future__ import annotations

import asyncio

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from tests.integration.conftest import Assistant, Seen, ask, both_backends, ran
from tests.integration.test_thread import config
from workers.client import post_message, send_message, thread_workflow_id
from workflows.contracts import CloseThread, RunResult, ThreadConfig, ThreadState
from workflows.thread.workflow import AssistantThread

pytestmark = both_backends


async def state_of(client: Client, thread: ThreadConfig) -> ThreadState:
    handle = client.get_workflow_handle_for(AssistantThread.run, thread_workflow_id(thread.key))
    return await handle.query(AssistantThread.state)


def refused_for_budget(result: RunResult) -> None:
    """An answer that no run gave: the budget was used up when its turn came."""
    assert (result.status, result.run_id) == ("incomplete", None)
    assert (result.incomplete_details or {}).get("reason") == "token_budget"


async def test_messages_are_answered_until_the_budget_is_used_then_refused(
    client: Client, task_queue: str, worker: None, assistant: Assistant, seen: Seen
) -> None:
    _, plain = await ran(client, task_queue, ask(assistant, "Hello there"))
    budget = plain.usage.total_tokens + 1  # the first message leaves 1 token for the next
    thread = config(assistant, token_budget=budget, runs_before_continue_as_new=1)

    first = await send_message(client, task_queue, thread, "Hello there")
    assert first.status == "completed"
    state = await state_of(client, thread)
    assert (state.tokens_used, state.tokens_left, state.token_budget) == (
        first.usage.total_tokens,
        budget - first.usage.total_tokens,
        budget,
    )
    assert state.tokens_left == 1

    second = await send_message(client, task_queue, thread, "Hello again")
    assert second.status == "completed", "a single turn is not stopped part-way: it overshoots"
    used = first.usage.total_tokens + second.usage.total_tokens
    runs = seen.conversation_runs(thread.key, second)
    assert runs == 2

    try:
        await send_message(client, task_queue, thread, "One more?")
        raise AssertionError("the message over budget was answered")
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        assert isinstance(cause, ApplicationError)
        assert cause.type == "ThreadTokenBudgetUsed"
        assert f"token budget used up ({used} of token_budget {budget} tokens)" in cause.message
    await post_message(client, task_queue, thread, "And one posted?")

    state = await state_of(client, thread)
    assert (state.tokens_used, state.tokens_left, state.runs_done) == (used, 0, 2)
    assert state.refused_messages == 1
    assert first.cost_usd is not None
    assert second.cost_usd is not None
    assert abs(state.cost_usd - (first.cost_usd + second.cost_usd)) < 1e-9
    assert state.runs_without_cost == 0
    assert seen.conversation_runs(thread.key, second) == runs, "no API call for the refused"
    handle = client.get_workflow_handle_for(AssistantThread.run, thread_workflow_id(thread.key))
    history = await handle.fetch_history()  # the execution answering now is a continuation
    started = history.events[0].workflow_execution_started_event_attributes
    assert started.continued_execution_run_id


async def test_the_budget_used_survives_a_close_and_the_next_execution_refuses(
    client: Client, task_queue: str, worker: None, assistant: Assistant, seen: Seen
) -> None:
    thread = config(assistant, token_budget=1)
    first = await send_message(client, task_queue, thread, "Hello there")
    assert first.status == "completed"
    handle = client.get_workflow_handle_for(AssistantThread.run, thread_workflow_id(thread.key))
    await handle.execute_update(AssistantThread.close, CloseThread())
    closed = await handle.result()
    assert (closed.tokens_used, closed.tokens_left) == (first.usage.total_tokens, 0)
    runs = seen.conversation_runs(thread.key, first)

    # the next execution accepts the message before it has read what the last one used,
    # then answers it without a run
    again = await send_message(client, task_queue, thread, "Hello after the close")
    refused_for_budget(again)
    assert seen.conversation_runs(thread.key, first) == runs
    state = await state_of(client, thread)
    assert (state.tokens_used, state.tokens_left) == (first.usage.total_tokens, 0)


async def test_two_messages_near_the_budget_start_one_run(
    client: Client, task_queue: str, worker: None, assistant: Assistant, seen: Seen
) -> None:
    thread = config(assistant, token_budget=1)
    answers = await asyncio.gather(
        send_message(client, task_queue, thread, "Hello from one"),
        send_message(client, task_queue, thread, "Hello from two"),
        return_exceptions=True,
    )
    completed = [a for a in answers if isinstance(a, RunResult) and a.status == "completed"]
    assert len(completed) == 1, answers
    [other] = [a for a in answers if a is not completed[0]]
    if isinstance(other, RunResult):  # accepted while the first ran: answered without a run
        refused_for_budget(other)
    else:  # sent once the first had used the budget: refused
        assert isinstance(other, WorkflowUpdateFailedError), other
        assert isinstance(other.cause, ApplicationError)
        assert other.cause.type == "ThreadTokenBudgetUsed"
    assert seen.conversation_runs(thread.key, completed[0]) == 1
    state = await state_of(client, thread)
    assert state.tokens_used == completed[0].usage.total_tokens
