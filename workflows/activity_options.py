"""Options of the activities that call the OpenAI API, from a contract's `RunTimeouts`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.common import RetryPolicy

from workflows.contracts import RunTimeouts

MAXIMUM_RETRY_INTERVAL = timedelta(seconds=30)


def api_call_options(timeouts: RunTimeouts) -> dict[str, Any]:
    """Keyword arguments for `workflow.execute_activity`: timeouts, heartbeat, retries."""
    return {
        "start_to_close_timeout": timedelta(seconds=timeouts.api_call_seconds),
        "heartbeat_timeout": timedelta(seconds=timeouts.heartbeat_seconds),
        "retry_policy": RetryPolicy(
            initial_interval=timedelta(seconds=timeouts.api_initial_retry_seconds),
            maximum_attempts=timeouts.api_max_attempts,
            maximum_interval=MAXIMUM_RETRY_INTERVAL,
        ),
    }
