"""A run's limits and fallbacks: its token budget, its rounds of tool calls, and the models
it is started again on when its model fails.

The limits are checked between turns, when the model asks for tool outputs: that is the only
point where nothing is in flight (a turn in progress cannot be stopped part-way without losing
what it wrote), so the turn that crosses `max_total_tokens` is the last, and it can overshoot.
"""

from __future__ import annotations

from typing import Any

from temporalio.exceptions import ActivityError, ApplicationError

from workflows.common import Usage
from workflows.run.contracts import RunRequest
from workflows.run.snapshots import RETRYABLE_RUN_FAILURES
from workflows.run.steps import MODEL_NOT_FOUND, RunSnapshot

TOKEN_BUDGET = "token_budget"
MAX_TOOL_ROUNDS = "max_tool_rounds"
FALLBACK_RUN_FAILURES = RETRYABLE_RUN_FAILURES
"""How a run fails when its model is overloaded or unavailable: the next attempt falls back."""


def budget_spent(request: RunRequest, usage: Usage) -> bool:
    """The run has used all of `max_total_tokens`."""
    budget = request.max_total_tokens
    return budget is not None and usage.total_tokens >= budget


def limit_reached(request: RunRequest, usage: Usage, rounds_done: int) -> dict[str, Any] | None:
    """Why a run that asks for tool outputs must not take another turn, as the
    `incomplete_details` it ends with; None: it goes on."""
    if budget_spent(request, usage):
        return {
            "reason": TOKEN_BUDGET,
            "message": f"the run used {usage.total_tokens} tokens; its max_total_tokens is "
            f"{request.max_total_tokens}",
            "max_total_tokens": request.max_total_tokens,
            "total_tokens": usage.total_tokens,
        }
    rounds = request.max_tool_rounds
    if rounds is not None and rounds_done >= rounds:
        return {
            "reason": MAX_TOOL_ROUNDS,
            "message": f"the model asked for tool round {rounds_done + 1}; max_tool_rounds "
            f"is {rounds}",
            "max_tool_rounds": rounds,
        }
    return None


class ModelChoice:
    """The model each attempt runs on: the run's own, then after a failure of the model
    (server_error, rate_limit_exceeded) the next of `fallback_models`."""

    def __init__(self, request: RunRequest, used: int = 0) -> None:
        self.fallbacks = list(request.fallback_models)
        self.own = request.model or (request.assistant.model if request.assistant else None)
        self.used = used  # fallbacks moved to (a run continued as new carries it)
        self.attempts = request.max_run_attempts + len(self.fallbacks)
        """Each fallback model is one more attempt besides `max_run_attempts`."""

    @property
    def override(self) -> str | None:
        """The model the next attempt asks for; None: the run's own."""
        return self.fallbacks[self.used - 1] if self.used else None

    def after_failure(self, failed: RunSnapshot) -> None:
        """An attempt failed for a transient reason: its model's failure moves to the next."""
        error = failed.last_error
        if error is not None and error.code in FALLBACK_RUN_FAILURES:
            self.fall_back()

    def after_missing_model(self) -> str | None:
        """The API has no model of the name asked for: move to the next fallback. The missing
        model's name ("" when it is the assistant's, unknown here); None when no fallback is
        left."""
        missing = self.override or self.own or ""
        return missing if self.fall_back() else None

    def fall_back(self) -> bool:
        """Move to the next fallback model; False when none is left."""
        if self.used >= len(self.fallbacks):
            return False
        self.used += 1
        return True


def model_not_found(err: ActivityError) -> bool:
    """The start failed because the API does not have the model asked for."""
    cause = err.cause
    return isinstance(cause, ApplicationError) and cause.type == MODEL_NOT_FOUND
