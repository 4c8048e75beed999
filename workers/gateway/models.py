"""The shapes the HTTP API adds around the workflows' own contracts (which it takes and
returns as they are: `RunRequest`, `RunState`, `RunResult`, `ThreadMessage`, `ThreadState`,
`SubmitToolOutputsRequest`, ...)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from workflows.common import Backend, Contract, Record, RunPhase
from workflows.contracts import AssistantSpec, RunResult, RunState, ThreadMessage
from workflows.run.contracts import MAX_WAIT_SECONDS, PromptReference


class RunView(Record):
    """A run as the API shows it: `state` while it runs, `result` once it has ended (or
    `error`, if its workflow ended without one)."""

    id: str = Field(description="the run's workflow id")
    status: str = Field(
        description="`running` while it runs; then the result's status (completed, failed, "
        "cancelled, expired, incomplete), or how its workflow ended without one (failed, "
        "terminated, timed_out)"
    )
    phase: RunPhase | None = Field(
        None, description="where the run is (the result's status once ended)"
    )
    closed: bool
    state: RunState | None = Field(None, description="while running")
    result: RunResult | None = Field(None, description="once ended with a result")
    error: str | None = Field(None, description="why its workflow ended without a result")
    ui_url: str = Field(description="the run in the Temporal UI")


class ConversationConfig(Contract):
    """How to start a conversation: `ThreadConfig` without `key` (the URL's) and `carried`.
    Needed only when the conversation is not open; given while it is, it must name the
    assistant it answers with."""

    assistant_id: str | None = Field(None, description="assistants backend only")
    assistant: AssistantSpec | None = None
    prompt: PromptReference | None = Field(None, description="responses backend only")
    backend: Backend | None = Field(None, description="None: the worker's OPENAI_BACKEND")
    thread_id: str | None = Field(None, description="adopt this API thread (responses: response)")
    defaults: dict[str, Any] = Field(default_factory=dict, description="RunRequest fields")
    idle_timeout_seconds: float = Field(24 * 3600.0, gt=0, le=MAX_WAIT_SECONDS)
    delete_thread_when_done: bool = False
    runs_before_continue_as_new: int = Field(200, ge=1)
    recent_results: int = Field(10, ge=0, le=100)
    token_budget: int | None = Field(
        None, ge=1, description="tokens the conversation's runs may use in all"
    )


class ConversationMessage(Contract):
    """Body of `POST /v1/conversations/{key}/messages`."""

    message: ThreadMessage
    config: ConversationConfig | None = Field(
        None, description="starts the conversation if it is not open (required then)"
    )


class ApprovalBody(Contract):
    """Body of `POST /v1/runs/{id}/approvals/{call_id}`."""

    approved: bool
    reason: str | None = Field(None, max_length=2000)


class Health(Record):
    status: Literal["ok"] = "ok"
