"""What `AssistantThread` asks of its activities besides its runs."""

from __future__ import annotations

from workflows.common import Backend, Record, Step
from workflows.run.steps import DELETE_THREAD
from workflows.thread.contracts import ThreadCarry


class FindPrevious(Record):
    """Look up the last closed execution of a conversation's workflow id: the one its
    starter saw closed (`previous_run_id`), or a later one the visibility index knows of;
    only an execution of the same tenant (the gateway's, or none) is taken over."""

    workflow_id: str
    backend: Backend = "assistants"
    previous_run_id: str | None = None
    tenant: str | None = None


__all__ = ["DELETE_THREAD", "FIND_PREVIOUS", "FindPrevious"]
FIND_PREVIOUS = Step("thread.find_previous", FindPrevious, ThreadCarry)
"""What the key's last execution left: its thread (None if deleted or gone), run count,
recent results; an empty queue."""
