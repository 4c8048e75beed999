"""A run's budgets on both backends: max_tool_rounds and max_total_tokens stop it between
turns with status incomplete and its API run cancelled (or, on responses, not continued),
with usage and cost reported; retried attempts count towards the token budget."""

from __future__ import annotations

from typing import Any

import pytest
from openai import AsyncOpenAI
from temporalio.client import Client

from activities.prices import load_prices
from tests.integration.conftest import Assistant, Seen, ask, both_backends, ran
from workflows.common import RunTimeouts, Usage
from workflows.contracts import RunResult

pytestmark = both_backends

THREE_ROUNDS = "weather in Paris then weather in London then weather in Rome"
QUICK = RunTimeouts(api_initial_retry_seconds=0.05)
PRICES = load_prices()


def priced(usage: Usage, model: str = "gpt-4o") -> float:
    price = PRICES.models[model]
    return (usage.prompt_tokens * price.input + usage.completion_tokens * price.output) / 1e6


async def turn_usages(seen: Seen, result: RunResult) -> list[int]:
    """Total tokens the API reports per turn of the result's run, oldest first: its steps'
    (assistants) or the chain of responses of its attempt (responses)."""
    openai: AsyncOpenAI = seen.openai
    assert result.run_id is not None
    assert result.thread_id is not None
    if seen.backend == "assistants":
        listed = openai.beta.threads.runs.steps.list(
            result.run_id, thread_id=result.thread_id, order="asc"
        )
        return [step.usage.total_tokens async for step in listed if step.usage]
    usages: list[int] = []
    head: str | None = result.run_id
    while head is not None:
        response = await openai.responses.retrieve(head)
        if response.usage is None or (response.metadata or {}).get("workflow_id") is None:
            break
        usages.insert(0, response.usage.total_tokens)
        head = response.previous_response_id
    return usages


def seen_at_checks(backend: str, turns: list[int]) -> list[int]:
    """The usage the workflow sees each time the model asks for tools: on assistants a turn's
    usage is reported once its step closes, so each check sees the turns before it."""
    cumulative = [sum(turns[: n + 1]) for n in range(len(turns))]
    return [0, *cumulative] if backend == "assistants" else cumulative


def stopped_by(result: RunResult, reason: str) -> dict[str, Any]:
    assert result.status == "incomplete", result
    details = result.incomplete_details or {}
    assert details.get("reason") == reason, details
    limit = "max_tool_rounds" if reason == "max_tool_rounds" else "max_total_tokens"
    assert limit in str(details.get("message")), details  # names the field that stopped it
    return details


async def test_a_model_that_keeps_calling_tools_stops_at_max_tool_rounds(
    client: Client, task_queue: str, worker: None, assistant: Assistant, seen: Seen
) -> None:
    workflow_id, result = await ran(
        client, task_queue, ask(assistant, THREE_ROUNDS, max_tool_rounds=2)
    )
    details = stopped_by(result, "max_tool_rounds")
    assert details["max_tool_rounds"] == 2
    assert "tool round 3" in details["message"]
    assert result.tool_rounds == 2
    assert [c.name for c in result.tool_calls] == ["get_weather"] * 2
    assert seen.rounds_submitted(workflow_id) == 2
    if seen.backend == "assistants":  # the run waiting for round 3's outputs was cancelled
        assert await seen.api_status(result) == "cancelled"
        assert seen.cancels_requested() == 1
    else:  # nothing in flight: the response asking for round 3 is simply not continued
        assert await seen.api_status(result) == "completed"
        assert seen.cancels_requested() == 0
    assert result.usage.total_tokens > 0
    assert result.cost_usd == pytest.approx(priced(result.usage))


async def test_an_attempt_after_one_that_failed_once_its_outputs_were_in_counts_rounds_afresh(
    client: Client, task_queue: str, worker: None, assistant: Assistant
) -> None:
    failing = "weather in Paris [[emulator fail=server_error*1 fail_round=1]]"
    request = ask(assistant, failing, max_tool_rounds=1, max_run_attempts=2, timeouts=QUICK)
    _, result = await ran(client, task_queue, request)
    assert result.status == "completed", result
    assert (result.run_attempts, result.tool_rounds) == (2, 1)
    assert [c.name for c in result.tool_calls] == ["get_weather"] * 2  # one per attempt


async def test_zero_tool_rounds_stops_a_run_at_its_first_tool_call(
    client: Client, task_queue: str, worker: None, assistant: Assistant, seen: Seen
) -> None:
    _, result = await ran(client, task_queue, ask(assistant, THREE_ROUNDS, max_tool_rounds=0))
    stopped_by(result, "max_tool_rounds")
    assert (result.tool_rounds, result.tool_calls) == (0, [])


async def test_a_run_over_its_token_budget_stops_incomplete_with_usage_and_cost(
    client: Client, task_queue: str, worker: None, assistant: Assistant, seen: Seen
) -> None:
    workflow_id, result = await ran(
        client, task_queue, ask(assistant, THREE_ROUNDS, max_total_tokens=1)
    )
    details = stopped_by(result, "token_budget")
    assert details["max_total_tokens"] == 1
    assert details["total_tokens"] > 1
    assert result.usage.total_tokens > 1  # the turn that crossed it overshoots
    # the first check that sees any usage stops it (assistants: one turn later)
    assert result.tool_rounds == (1 if seen.backend == "assistants" else 0)
    assert seen.rounds_submitted(workflow_id) == result.tool_rounds
    expected = "cancelled" if seen.backend == "assistants" else "completed"
    assert await seen.api_status(result) == expected
    assert result.cost_usd is not None
    assert result.cost_usd == pytest.approx(priced(result.usage))
    assert result.cost_usd > 0
    assert (result.model, result.models_tried) == ("gpt-4o", ["gpt-4o"])


async def test_a_budget_the_run_stays_within_changes_nothing(
    client: Client, task_queue: str, worker: None, assistant: Assistant, seen: Seen
) -> None:
    request = ask(assistant, THREE_ROUNDS, max_total_tokens=100_000, max_tool_rounds=3)
    _, result = await ran(client, task_queue, request)
    assert (result.status, result.tool_rounds, result.incomplete_details) == ("completed", 3, None)


async def test_the_token_budget_counts_the_tokens_of_a_failed_attempt(
    client: Client, task_queue: str, worker: None, assistant: Assistant, seen: Seen
) -> None:
    # First the same run without a budget, to learn what each turn costs; then a budget
    # that the second attempt alone would reach one check later than it does with the
    # failed attempt's tokens counted.
    def retried(name: str, budget: int | None) -> Any:
        text = f"Hello {name}: {THREE_ROUNDS} [[emulator fail=server_error*1]]"
        return ask(assistant, text, max_run_attempts=2, max_total_tokens=budget, timeouts=QUICK)

    _, measured = await ran(client, task_queue, retried("Ada", None))
    assert (measured.status, measured.run_attempts) == ("completed", 2)
    turns = await turn_usages(seen, measured)
    failed = measured.usage.total_tokens - sum(turns)
    assert failed >= 2, "the failed attempt used its prompt's tokens"
    checks = seen_at_checks(seen.backend, turns)
    budget = checks[1] + 1 + failed // 2
    assert checks[0] + failed < budget <= checks[1] + failed

    _, result = await ran(client, task_queue, retried("Bob", budget))
    stopped_by(result, "token_budget")
    assert result.run_attempts == 2
    assert result.tool_rounds == 1, "stopped at the second check, not the third"
    assert result.usage.total_tokens == failed + checks[1] + (
        turns[1] if seen.backend == "assistants" else 0
    )
    assert result.usage.total_tokens >= budget


async def test_a_spent_budget_starts_no_further_attempt(
    client: Client, task_queue: str, worker: None, assistant: Assistant, seen: Seen
) -> None:
    text = "Hello [[emulator fail=server_error*1]]"
    request = ask(assistant, text, max_run_attempts=3, max_total_tokens=1, timeouts=QUICK)
    workflow_id, result = await ran(client, task_queue, request)
    assert (result.status, result.run_attempts) == ("failed", 1)
    assert result.last_error is not None
    assert result.last_error.code == "server_error"
    assert seen.api_runs(workflow_id, result) == 1
    assert result.usage.total_tokens > 1
