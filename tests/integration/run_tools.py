"""Tools the run tests need besides the examples: ones that fail, and ones that take time."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio.exceptions import ApplicationError

from activities.tools import tool
from workflows.contracts import ToolRetry


@tool(retry=ToolRetry(max_attempts=2, initial_interval_seconds=0.05))
def always_fails(reason: str) -> str:
    """Fails every time."""
    raise RuntimeError(f"always fails: {reason}")


@tool(timeout=timedelta(seconds=30))
async def slow_lookup(seconds: float) -> str:
    """Takes `seconds` to answer."""
    await asyncio.sleep(seconds)
    return f"waited {seconds}"


@tool(retry=ToolRetry(max_attempts=3, initial_interval_seconds=0.05))
def refuses(reason: str) -> str:
    """Fails for good on the first attempt."""
    raise ApplicationError(reason, non_retryable=True)


@tool(external=True, external_timeout=timedelta(seconds=60))
def ask_a_human(question: str) -> str:
    """Answered by a person through the submit_tool_outputs update."""
    raise AssertionError("external tools never run on the worker")


REFUNDED: list[str] = []
"""Orders `issue_refund` refunded in this process (its worker runs in the test process)."""


@tool(requires_approval=True)
def issue_refund(order_id: str) -> str:
    """Refunds an order; a person approves each call first."""
    REFUNDED.append(order_id)
    return f"refunded {order_id}"
