"""Budgets, fallbacks and prices at the edge: bad values are refused naming the field; the
price table prices dated snapshots, knows nothing it was not told, and charges nothing for
nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from activities.prices import PricesFileError, load_prices
from workflows.common import RunError, RunPhase, Usage, first_error
from workflows.contracts import RunRequest, ThreadConfig
from workflows.run.budgets import ModelChoice, limit_reached
from workflows.run.steps import RunSnapshot


def request(**fields: Any) -> RunRequest:
    return RunRequest.model_validate(
        {"assistant_id": "asst_1", "messages": [{"content": "hi"}], **fields}
    )


@pytest.mark.parametrize(
    ("fields", "where", "says"),
    [
        ({"max_total_tokens": 0}, "max_total_tokens", "greater than or equal to 1"),
        ({"max_total_tokens": -5}, "max_total_tokens", "greater than or equal to 1"),
        ({"max_tool_rounds": -1}, "max_tool_rounds", "greater than or equal to 0"),
        ({"max_tool_rounds": 1001}, "max_tool_rounds", "less than or equal to 1000"),
        ({"fallback_models": ["a", "b", "c", "d", "e", "f"]}, "fallback_models", "at most 5"),
        ({"fallback_models": [""]}, "fallback_models.0", "at least 1"),
        ({"fallback_models": ["gpt 4o"]}, "fallback_models.0", "pattern"),
        ({"fallback_models": ["gpt-4o", "gpt-4o"]}, "", "fallback_models: a model is listed twice"),
        (
            {"model": "gpt-4o", "fallback_models": ["gpt-4o"]},
            "",
            "fallback_models: gpt-4o is the run's own model",
        ),
    ],
)
def test_bad_limits_are_refused_naming_the_field(
    fields: dict[str, Any], where: str, says: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        request(**fields)
    path, message = first_error(raised.value)
    assert (path, says in message) == (where, True), (path, message)


def test_a_conversation_budget_is_positive() -> None:
    with pytest.raises(ValidationError) as raised:
        ThreadConfig(key="k", assistant_id="asst_1", token_budget=0)
    assert first_error(raised.value)[0] == "token_budget"


def test_old_payloads_without_the_new_fields_still_validate() -> None:
    old = request()
    assert (old.max_total_tokens, old.max_tool_rounds, old.fallback_models) == (None, None, [])


def test_limits_say_which_one_was_reached() -> None:
    both = request(max_total_tokens=10, max_tool_rounds=2)
    assert limit_reached(both, Usage(total_tokens=9), 1) is None
    spent = limit_reached(both, Usage(total_tokens=10), 0)
    assert spent is not None
    assert (spent["reason"], spent["total_tokens"]) == ("token_budget", 10)
    rounds = limit_reached(both, Usage(total_tokens=1), 2)
    assert rounds is not None
    assert rounds["reason"] == "max_tool_rounds"


def failed(code: str) -> RunSnapshot:
    error = RunError(code=code, message="down")
    return RunSnapshot(thread_id="t", run_id="r", status=RunPhase.failed, last_error=error)


def test_fallback_models_follow_failures_of_the_model_only() -> None:
    choice = ModelChoice(request(max_run_attempts=2, fallback_models=["b", "c"]))
    assert (choice.attempts, choice.override) == (4, None)
    choice.after_failure(failed("invalid_prompt"))
    assert choice.override is None
    choice.after_failure(failed("server_error"))
    assert choice.override == "b"
    choice.after_failure(failed("rate_limit_exceeded"))
    choice.after_failure(failed("server_error"))
    assert choice.override == "c", "the last fallback is kept for the attempts left"


def test_prices_of_dated_snapshots_unknown_models_and_nothing_used() -> None:
    table = load_prices()
    used = Usage(prompt_tokens=1_000_000, completion_tokens=1_000_000, total_tokens=2_000_000)
    price = table.models["gpt-4o"]
    assert table.cost("gpt-4o-2024-08-06", used) == pytest.approx(price.input + price.output)
    assert table.cost("gpt-4o-mini", used) != table.cost("gpt-4o", used)
    assert table.cost("house-model", used) is None
    assert table.cost(None, used) is None
    assert table.cost("house-model", Usage()) == 0.0
    assert table.as_of is not None


def test_a_prices_file_error_says_what_is_wrong(tmp_path: Path) -> None:
    bad = tmp_path / "prices.yaml"
    bad.write_text("models:\n  gpt-4o: {input: 1, output: 1, cached: 0.5}\n")
    with pytest.raises(PricesFileError, match=r"models\.gpt-4o\.cached: Extra inputs"):
        load_prices(bad)
