"""What `AssistantThread` asks of its activities besides its runs."""

from __future__ import annotations

from workflows.common import Backend, Record, Step
from workflows.run.steps import DELETE_THREAD
from workflows.thread.contracts import ThreadCarry


class FindPrevious(Record):
    """Look up the last closed execution of a conversation's workflow id."""

    workflow_id: str
    backend: Backend = "assistants"


__all__ = ["DELETE_THREAD", "FIND_PREVIOUS", "FindPrevious"]
FIND_PREVIOUS = Step("thread.find_previous", FindPrevious, ThreadCarry)
"""What the key's last execution left: its thread (None if deleted or gone), run count,
recent results; an empty queue."""
