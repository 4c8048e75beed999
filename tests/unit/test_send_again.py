"""Which refusals of a conversation message are sent again: only those that applied nothing."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from workers.client import send_again


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
    assert send_again(refused) is again


@pytest.mark.parametrize(
    ("status", "again"),
    [
        (RPCStatusCode.RESOURCE_EXHAUSTED, True),  # the server's limit on in-flight updates
        (RPCStatusCode.UNAVAILABLE, True),  # "workflow update was aborted": not taken in
        (RPCStatusCode.INVALID_ARGUMENT, False),
        (RPCStatusCode.NOT_FOUND, False),
    ],
)
def test_messages_the_server_did_not_take_in_are_sent_again(
    status: RPCStatusCode, again: bool
) -> None:
    assert send_again(RPCError("workflow update was aborted", status, b"")) is again
