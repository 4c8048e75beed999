"""What the run workflow asks of an API backend: activity names and their payloads.

Each backend (Assistants API, Responses API) registers activities under these names, so the
workflow drives either one unchanged. Every activity that reaches a decision point (the run
needs tool outputs, or is terminal) returns a `RunSnapshot`.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from workflows.contracts import (
    AssistantSpec,
    Contract,
    InputMessage,
    RunError,
    RunMessage,
    RunPhase,
    ToolCall,
    ToolOutputSubmission,
    Usage,
)

ENSURE_ASSISTANT = "run.ensure_assistant"
CREATE_THREAD = "run.create_thread"
START_RUN = "run.start"
WAIT_FOR_RUN = "run.wait"
SUBMIT_TOOL_OUTPUTS = "run.submit_tool_outputs"
CANCEL_RUN = "run.cancel"
DELETE_THREAD = "run.delete_thread"
WAIT_FOR_VECTOR_STORES = "run.wait_for_vector_stores"

ACTIVE_RUN_CONFLICT = "ActiveRunConflict"
"""ApplicationError type: the thread has another active run (its id is the first detail)."""


class CreateThread(Contract):
    """Create an empty thread (messages come with the run, atomically)."""

    metadata: dict[str, str] = Field(default_factory=dict)


class StartRun(Contract):
    """Create a run on the thread with the new messages and follow it until it needs tool
    outputs or ends. `idempotency_key` finds the run an earlier attempt may have created."""

    idempotency_key: str
    assistant_id: str
    thread_id: str
    messages: list[InputMessage]
    overrides: dict[str, Any] = Field(default_factory=dict)


class RunRef(Contract):
    thread_id: str
    run_id: str


class WaitForRun(Contract):
    """Wait until the run needs tool outputs or ends (`until_terminal`: until it ends)."""

    run: RunRef
    until_terminal: bool = False


class SubmitToolOutputs(Contract):
    run: RunRef
    tool_outputs: list[ToolOutputSubmission]


class CancelRun(Contract):
    """Cancel a run and wait until it is terminal. Without `run_id`, the run is looked up by
    `idempotency_key` (a start may have created it before being interrupted)."""

    thread_id: str | None
    run_id: str | None
    idempotency_key: str


class RunSnapshot(Contract):
    thread_id: str
    run_id: str | None = Field(None, description="None: no run was ever created")
    status: RunPhase
    tool_calls: list[ToolCall] = Field(default_factory=list, description="outputs required")
    usage: Usage | None = None
    last_error: RunError | None = None
    incomplete_details: dict[str, Any] | None = None
    expires_at: int | None = None
    created_at: int | None = None
    completed_at: int | None = None
    messages: list[RunMessage] = Field(default_factory=list, description="when terminal")

    @property
    def ref(self) -> RunRef:
        assert self.run_id is not None
        return RunRef(thread_id=self.thread_id, run_id=self.run_id)


class WaitForVectorStores(Contract):
    """Wait until the vector stores of the assistant and the thread have no file indexing."""

    assistant_id: str
    thread_id: str
    timeout_seconds: float


class EnsureAssistant(Contract):
    spec: AssistantSpec
