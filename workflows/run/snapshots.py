"""What a run's snapshot means for the workflow: retry it, how long until it expires, how
to describe it in the UI."""

from __future__ import annotations

from datetime import datetime, timedelta

from workflows.common import RunPhase, ToolCallResult, tool_error
from workflows.run.steps import RunSnapshot

RETRYABLE_RUN_FAILURES = frozenset({"server_error", "rate_limit_exceeded"})
EXPIRY_GRACE = timedelta(seconds=2)


def transient_failure(snapshot: RunSnapshot, attempt: int, max_attempts: int) -> bool:
    """A run that failed for a transient reason, to be run again (up to `max_attempts`)."""
    error = snapshot.last_error
    return (
        snapshot.status == RunPhase.failed
        and error is not None
        and error.code in RETRYABLE_RUN_FAILURES
        and attempt < max_attempts
    )


def seconds_until_expiry(snapshot: RunSnapshot, now: datetime) -> float | None:
    """How long tools may take before the API expires the run (with a grace period)."""
    if snapshot.expires_at is None:
        return None
    left = snapshot.expires_at - now.timestamp() + EXPIRY_GRACE.total_seconds()
    return max(left, 0.0)


def expired_calls(snapshot: RunSnapshot) -> list[ToolCallResult]:
    """The snapshot's tool calls, answered with a `run_expired` error."""
    failure = tool_error("run_expired", "the run expired before this tool call finished")
    return [
        ToolCallResult(
            id=c.id, name=c.name, arguments=c.arguments, output=failure.output, error=failure.error
        )
        for c in snapshot.tool_calls
    ]


def describe(snapshot: RunSnapshot) -> str:
    """The snapshot in words, for the workflow's current details."""
    if snapshot.status == RunPhase.requires_action:
        return f"{snapshot.run_id} needs {len(snapshot.tool_calls)} tool outputs"
    if snapshot.last_error is not None:
        return f"{snapshot.run_id}: {snapshot.last_error.code}: {snapshot.last_error.message}"
    return f"{snapshot.run_id} on {snapshot.thread_id}"
