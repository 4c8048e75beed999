"""Model fallback and cost estimates on both backends: a run whose model fails is started
again on the next of `fallback_models` (recorded in the result), and its cost comes from the
worker's price table (MODEL_PRICES_FILE overrides it; a model without a price has no cost)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowFailureError

from activities.prices import load_prices
from tests.integration.conftest import (
    Assistant,
    Seen,
    ask,
    both_backends,
    ran,
    run_cli,
)
from workers.settings import Settings
from workers.worker import build_worker
from workflows.common import RunTimeouts, Usage

pytestmark = both_backends

QUICK = RunTimeouts(api_initial_retry_seconds=0.05)
PRICES = load_prices()


def priced(usage: Usage, model: str) -> float:
    price = PRICES.models[model]
    return (usage.prompt_tokens * price.input + usage.completion_tokens * price.output) / 1e6


async def test_a_run_whose_model_fails_is_answered_by_the_fallback_model(
    client: Client, task_queue: str, worker: None, assistant: Assistant, seen: Seen
) -> None:
    text = "Hello [[emulator fail_model=gpt-4o]]"
    request = ask(assistant, text, fallback_models=["gpt-4o-mini"], timeouts=QUICK)
    workflow_id, result = await ran(client, task_queue, request)
    assert (result.status, result.run_attempts) == ("completed", 2)
    assert (result.model, result.models_tried) == ("gpt-4o-mini", ["gpt-4o", "gpt-4o-mini"])
    assert seen.api_runs(workflow_id, result) == 2
    assert "Hello" in result.output_text
    assert result.cost_usd is not None
    assert result.cost_usd > priced(result.usage, "gpt-4o-mini"), "the failed attempt costs too"
    assert result.cost_usd < priced(result.usage, "gpt-4o")


async def test_a_run_whose_every_model_fails_lists_each_one_tried(
    client: Client, task_queue: str, worker: None, assistant: Assistant, seen: Seen
) -> None:
    request = ask(
        assistant,
        "Hello [[emulator fail=server_error]]",
        fallback_models=["gpt-4o-mini", "gpt-4.1"],
        timeouts=QUICK,
    )
    workflow_id, result = await ran(client, task_queue, request)
    assert (result.status, result.run_attempts) == ("failed", 3)
    assert result.models_tried == ["gpt-4o", "gpt-4o-mini", "gpt-4.1"]
    assert result.model == "gpt-4.1"
    assert result.last_error is not None
    assert result.last_error.code == "server_error"
    assert seen.api_runs(workflow_id, result) == 3


async def test_a_failure_that_is_not_the_models_does_not_fall_back(
    client: Client, task_queue: str, worker: None, assistant: Assistant
) -> None:
    text = "Hello [[emulator fail=invalid_prompt]]"
    request = ask(assistant, text, fallback_models=["gpt-4o-mini"], timeouts=QUICK)
    _, result = await ran(client, task_queue, request)
    assert (result.status, result.run_attempts, result.models_tried) == ("failed", 1, ["gpt-4o"])


async def test_the_cost_is_the_usage_priced_by_the_table(
    client: Client, task_queue: str, worker: None, assistant: Assistant
) -> None:
    _, result = await ran(client, task_queue, ask(assistant, "weather in Paris", model="gpt-4.1"))
    assert result.status == "completed"
    assert result.model == "gpt-4.1"
    assert result.cost_usd == pytest.approx(priced(result.usage, "gpt-4.1"))


async def test_a_model_without_a_price_has_no_cost(
    client: Client, task_queue: str, worker: None, assistant: Assistant
) -> None:
    _, result = await ran(client, task_queue, ask(assistant, "Hello", model="house-model-7"))
    assert (result.status, result.model) == ("completed", "house-model-7")
    assert result.usage.total_tokens > 0
    assert result.cost_usd is None


@pytest.fixture
async def priced_worker(client: Client, settings: Settings, tmp_path: Path) -> AsyncIterator[None]:
    """A worker whose MODEL_PRICES_FILE prices gpt-4o at 1 USD per 1M tokens either way."""
    prices = tmp_path / "prices.yaml"
    prices.write_text("as_of: '2026-01-01'\nmodels:\n  gpt-4o: {input: 1, output: 1}\n")
    overridden = Settings.model_validate({**settings.model_dump(), "model_prices_file": prices})
    async with build_worker(client, overridden):
        yield


async def test_model_prices_file_replaces_the_shipped_prices(
    client: Client, task_queue: str, priced_worker: None, assistant: Assistant
) -> None:
    _, result = await ran(client, task_queue, ask(assistant, "Hello"))
    assert result.status == "completed"
    assert result.cost_usd == pytest.approx(result.usage.total_tokens / 1e6)
    _, other = await ran(client, task_queue, ask(assistant, "Hello", model="gpt-4o-mini"))
    assert other.cost_usd is None, "the file replaces the table: gpt-4o-mini has no price"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("models:\n  gpt-4o: {input: 1}\n", "models.gpt-4o.output: Field required"),
        ("models: [gpt-4o\n", "is not YAML"),
        ("models:\n  gpt-4o: {input: -1, output: 1}\n", "models.gpt-4o.input"),
    ],
    ids=["missing-price", "not-yaml", "negative"],
)
async def test_a_malformed_prices_file_is_one_line_naming_it_and_exit_code_2(
    content: str, expected: str, settings: Settings, tmp_path: Path
) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text(content)
    done = await run_cli(settings, "worker", env={"MODEL_PRICES_FILE": str(prices)})
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    assert "MODEL_PRICES_FILE" in lines[0]
    assert expected in lines[0]


async def test_an_unreadable_prices_file_names_it(settings: Settings, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    done = await run_cli(settings, "worker", env={"MODEL_PRICES_FILE": str(missing)})
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().startswith("error: ")
    assert "MODEL_PRICES_FILE" in done.stderr
    assert "cannot read" in done.stderr


async def test_a_model_the_api_does_not_have_falls_back_to_the_next(
    client: Client, task_queue: str, worker: None, assistant: Assistant, seen: Seen
) -> None:
    request = ask(assistant, "Hello", model="no-such-model", fallback_models=["gpt-4o-mini"])
    workflow_id, result = await ran(client, task_queue, request)
    assert (result.status, result.run_attempts) == ("completed", 1)
    assert (result.model, result.models_tried) == ("gpt-4o-mini", ["no-such-model", "gpt-4o-mini"])
    assert seen.api_runs(workflow_id, result) == 1


async def test_a_model_the_api_does_not_have_fails_the_run_without_fallbacks(
    client: Client, task_queue: str, worker: None, assistant: Assistant
) -> None:
    with pytest.raises(WorkflowFailureError) as failed:
        await ran(client, task_queue, ask(assistant, "Hello", model="no-such-model"))
    assert "The model `no-such-model` does not exist" in str(failed.value.cause)
