"""Whether a round of tool calls needs a timer for the run's expiry: only when one of its
calls could still run when the run expires (each timer is two history events per round)."""

from __future__ import annotations

import pytest

from workflows.common import ToolCall
from workflows.run.approvals import Approvals
from workflows.run.progress_log import ProgressLog
from workflows.run.steps import ToolCatalog, ToolRetry, ToolSpec
from workflows.run.tool_calls import may_outlast

CATALOG = ToolCatalog(
    tools=[
        ToolSpec(name="quick", timeout_seconds=10, retry=ToolRetry(max_attempts=3)),
        ToolSpec(name="forever", retry=ToolRetry(max_attempts=0)),
        ToolSpec(name="human", external=True),
        ToolSpec(name="refund", requires_approval=True),
        ToolSpec(name="remote", task_queue="gpu-tools", timeout_seconds=1),
    ]
)


def approvals(required_for: list[str] = []) -> Approvals:  # noqa: B006 (never mutated)
    return Approvals(required_for, 60, ProgressLog(), on_change=lambda: None)


def calls(*names: str) -> list[ToolCall]:
    return [ToolCall(id=f"call_{n}", name=name, arguments="{}") for n, name in enumerate(names)]


def test_attempts_timeouts_and_backoffs_bound_an_activity() -> None:
    # 3 attempts of 10 s and back-offs of 1 s and 2 s: 33 s
    assert not may_outlast(calls("quick"), CATALOG, approvals(), 33.0)
    assert may_outlast(calls("quick"), CATALOG, approvals(), 32.9)


@pytest.mark.parametrize("name", ["forever", "human", "refund", "remote"])
def test_a_call_that_waits_on_someone_else_may_outlast_any_expiry(name: str) -> None:
    assert may_outlast(calls("quick", name), CATALOG, approvals(), 10_000.0)


def test_a_call_the_run_requires_approval_for_may_outlast_any_expiry() -> None:
    assert may_outlast(calls("quick"), CATALOG, approvals(["quick"]), 10_000.0)


def test_an_unknown_tool_ends_at_once_and_a_run_without_expiry_needs_no_timer() -> None:
    assert not may_outlast(calls("no_such_tool"), CATALOG, approvals(), 0.0)
    assert not may_outlast(calls("forever", "human"), CATALOG, approvals(), None)
