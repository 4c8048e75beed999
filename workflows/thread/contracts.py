"""The public contracts of `AssistantThread`: its input, updates, signal and query.

These JSON shapes are a public API. New fields only with defaults; never rename a field.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from workflows.common import (
    MAX_MESSAGE_CHARS,
    Attachment,
    Backend,
    Carrier,
    Contract,
    Metadata,
    Record,
)
from workflows.run.contracts import (
    MAX_ATTACHMENTS,
    MAX_WAIT_SECONDS,
    RUN_OVERRIDES,
    AssistantSpec,
    PromptReference,
    who_answers,
)

MAX_QUEUED_MESSAGES = 100
MAX_QUEUED_CHARS = 1_000_000
"""Bounds of what waits in a conversation's queue (it is carried through continue-as-new)."""


class ThreadMessage(Contract):
    """Update `send_message` / Signal `post_message` of `AssistantThread`."""

    content: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    attachments: list[Attachment] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)
    metadata: Metadata = Field(default_factory=dict, max_length=16)
    overrides: dict[str, Any] = Field(
        default_factory=dict, description="RunRequest fields for this run only"
    )

    @model_validator(mode="after")
    def _known_overrides(self) -> ThreadMessage:
        unknown = sorted(set(self.overrides) - RUN_OVERRIDES)
        if unknown:
            raise ValueError(f"overrides: not a run option: {', '.join(unknown)}")
        return self


class QueuedMessage(Record):
    id: int
    message: ThreadMessage
    answered_by_update: bool = Field(description="a send_message call waits for the result")

    @field_validator("message", mode="before")
    @classmethod
    def _message_fields_this_version_knows(cls, message: Any) -> Any:
        """A queued message was checked when a caller sent it; carried to another version,
        fields that version does not know are dropped, not refused."""
        if isinstance(message, dict):
            return {k: v for k, v in message.items() if k in ThreadMessage.model_fields}
        return message


class RunSummary(Record):
    message_id: int
    workflow_id: str
    run_id: str | None
    status: str
    output_text: str


class ThreadConfig(Carrier):
    """Input of `AssistantThread`, workflow id `thread-{key}`."""

    key: str = Field(min_length=1)
    assistant_id: str | None = Field(None, description="assistants backend only")
    assistant: AssistantSpec | None = None
    prompt: PromptReference | None = Field(None, description="responses backend only")
    backend: Backend | None = Field(None, description="None: the worker's OPENAI_BACKEND")
    thread_id: str | None = Field(
        None,
        description="adopt this API thread (responses backend: continue from this response); "
        "absent: created",
    )
    defaults: dict[str, Any] = Field(default_factory=dict, description="RunRequest fields")
    idle_timeout_seconds: float = Field(24 * 3600.0, gt=0, le=MAX_WAIT_SECONDS)
    delete_thread_when_done: bool = False
    runs_before_continue_as_new: int = Field(200, ge=1)
    recent_results: int = Field(10, ge=0, le=100)
    token_budget: int | None = Field(
        None,
        ge=1,
        description="tokens the conversation's runs may use in all: a message is refused "
        "once they are used up, and each run may use at most what is left (max_total_tokens)",
    )
    previous_run_id: str | None = Field(
        None,
        max_length=64,
        description="the run id of the key's last execution, seen closed by whoever starts "
        "this one (the gateway and the Python client look it up): its thread and counts are "
        "taken over even before the visibility index has its close",
    )
    carried: ThreadCarry | None = Field(None, description="set by continue-as-new only")

    def summary(self) -> str:
        """The conversation as the Temporal UI lists it."""
        who = who_answers(self.assistant_id, self.assistant, self.prompt)
        return f"conversation {self.key} with {who}"

    @model_validator(mode="after")
    def _valid(self) -> ThreadConfig:
        if self.prompt is None and (self.assistant_id is None) == (self.assistant is None):
            raise ValueError("assistant_id, assistant: give exactly one of them (or a prompt)")
        unknown = sorted(set(self.defaults) - RUN_OVERRIDES)
        if unknown:
            raise ValueError(f"defaults: not a run option: {', '.join(unknown)}")
        return self


class ConfigureThread(Contract):
    """Update `configure`: who answers the messages not yet started (runs under way keep
    theirs), and optionally new run defaults. The backend stays the conversation's."""

    assistant_id: str | None = Field(None, description="assistants backend only")
    assistant: AssistantSpec | None = None
    prompt: PromptReference | None = Field(None, description="responses backend only")
    defaults: dict[str, Any] | None = Field(None, description="None: keep the current ones")

    @model_validator(mode="after")
    def _one_target(self) -> ConfigureThread:
        given = [self.assistant_id, self.assistant, self.prompt]
        if sum(target is not None for target in given) != 1:
            raise ValueError("assistant_id, assistant, prompt: give exactly one of them")
        return self


class ThreadCarry(Record):
    """What continue-as-new carries over."""

    thread_id: str | None
    thread_root: str | None = None
    queue: list[QueuedMessage]
    next_message_id: int
    runs_done: int
    recent: list[RunSummary]
    refused_messages: int = 0
    last_refused: str | None = None
    tokens_used: int = 0
    cost_usd: float = 0.0
    runs_without_cost: int = 0


class ThreadState(Record):
    """Query `state` of `AssistantThread`."""

    key: str
    thread_id: str | None
    thread_root: str | None = Field(
        None, description="responses backend: the first response of the thread"
    )
    queue_length: int
    current_run: str | None = Field(description="workflow id of the AssistantRun in progress")
    runs_done: int
    recent: list[RunSummary]
    closing: bool
    thread_deleted: bool = Field(False, description="the API thread was deleted on close")
    refused_messages: int = Field(
        0,
        description="post_message signals dropped: queue full, token budget used up, or a "
        "message that makes no valid run",
    )
    last_refused: str | None = Field(None, description="why the last one was dropped")
    assistant_id: str | None = Field(None, description="who answers the next message")
    assistant: AssistantSpec | None = None
    prompt: PromptReference | None = None
    backend: Backend | None = None
    tokens_used: int = Field(0, description="by the conversation's runs, all of them")
    token_budget: int | None = None
    tokens_left: int | None = Field(None, description="of token_budget; None: no budget")
    cost_usd: float = Field(
        0.0, description="estimated cost in USD of the runs whose models have a price"
    )
    runs_without_cost: int = Field(0, description="runs whose cost is unknown (no price)")

    def answers_like(self, config: ThreadConfig | ConfigureThread) -> bool:
        """`config` names the assistant (spec or prompt) this conversation answers with."""
        return (self.assistant_id, self.assistant, self.prompt) == (
            config.assistant_id,
            config.assistant,
            config.prompt,
        )


class CloseThread(Contract):
    """Update `close`: answer what is queued, then end (optionally deleting the API thread)."""

    delete_thread: bool | None = Field(None, description="None: the config's choice")


ThreadConfig.model_rebuild()
