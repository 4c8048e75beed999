"""Answers to messages that no run answered normally."""

from __future__ import annotations

from temporalio.exceptions import ApplicationError, ChildWorkflowError

from workflows.common import RunError
from workflows.run.outcome import RunResult


def failed_run(err: ChildWorkflowError, thread_id: str | None) -> RunResult:
    """A run whose workflow failed (bad input, a non-retryable API error) answers `failed`."""
    cause = err.cause
    message = cause.message if isinstance(cause, ApplicationError) else str(err)
    return RunResult(
        status="failed",
        thread_id=thread_id,
        run_id=None,
        assistant_id=None,
        last_error=RunError(code="run_workflow_failed", message=message),
    )


def never_run(reason: str, thread_id: str | None) -> RunResult:
    """A message the conversation ended before running."""
    return RunResult(
        status="cancelled",
        thread_id=thread_id,
        run_id=None,
        assistant_id=None,
        cancel_reason=reason,
    )


def budget_used_up(reason: str, thread_id: str | None) -> RunResult:
    """A message queued while the conversation still had tokens, reached once it had none:
    no run is started for it."""
    return RunResult(
        status="incomplete",
        thread_id=thread_id,
        run_id=None,
        assistant_id=None,
        incomplete_details={"reason": "token_budget", "message": reason},
    )


def invalid_run(reason: str, thread_id: str | None) -> RunResult:
    """A message that makes no valid run (a `configure` changed the defaults since it was
    queued): answered `failed`, naming the field, without a run."""
    return RunResult(
        status="failed",
        thread_id=thread_id,
        run_id=None,
        assistant_id=None,
        last_error=RunError(code="invalid_message", message=reason),
    )
