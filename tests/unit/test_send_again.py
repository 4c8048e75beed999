"""Which refusals of a conversation message are sent again: only those that applied nothing."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from workers.client import _send_again


@pytest.mark.parametrize(
    ("kind", "again"),
    [
        ("ThreadContinuing", True),
        ("ThreadClosing", True),
        ("UnprocessedUpdate", True),  # its workflow task ended without taking it in
        ("ThreadTokenBudgetUsed", False),
        ("ValueError", False),
    ],
)
def test_only_refusals_that_applied_nothing_are_sent_again(kind: str, again: bool) -> None:
    refused = WorkflowUpdateFailedError(ApplicationError("refused", type=kind))
    assert _send_again(refused) is again
