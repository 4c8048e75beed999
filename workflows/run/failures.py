"""How an activity's failure becomes the run's: its own error, not "activity failed"."""

from __future__ import annotations

import asyncio

from temporalio.exceptions import ActivityError, ApplicationError

from workflows.run.steps import ACTIVE_RUN_CONFLICT


def raise_failure(driver: asyncio.Task[None]) -> None:
    """Fail the workflow with what went wrong in `driver` (done), non-retryably."""
    try:
        driver.result()
    except ActivityError as err:
        cause = err.cause
        if isinstance(cause, ApplicationError):
            raise ApplicationError(
                cause.message, *cause.details, type=cause.type, non_retryable=True
            ) from err
        raise


def failure_text(error: BaseException) -> str:
    """What `raise_failure` will say went wrong."""
    if isinstance(error, ActivityError) and isinstance(error.cause, ApplicationError):
        return error.cause.message
    return error.message if isinstance(error, ApplicationError) else str(error)


def active_run_of(err: ActivityError) -> str | None:
    """The run that made a start fail because the thread already has an active run."""
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.type == ACTIVE_RUN_CONFLICT and cause.details:
        return str(cause.details[0])
    return None


def active_run_refused(thread_id: str, active_run: str) -> ApplicationError:
    """The run cannot start: the thread is busy and the policy says fail."""
    return ApplicationError(
        f"thread {thread_id} already has an active run {active_run} (on_active_run=fail)",
        type=ACTIVE_RUN_CONFLICT,
        non_retryable=True,
    )
