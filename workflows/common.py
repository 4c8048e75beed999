"""What several workflows share: the contract base, run phases, usage, tool results, and the
typed steps (activities called by name) with their timeouts and retries."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from temporalio import workflow
from temporalio.common import RetryPolicy

A = TypeVar("A")
R = TypeVar("R")
MAXIMUM_RETRY_INTERVAL = timedelta(seconds=30)


MetadataKey = Annotated[str, StringConstraints(max_length=64)]
MetadataValue = Annotated[str, StringConstraints(max_length=512)]
Metadata = dict[MetadataKey, MetadataValue]
"""The API's metadata: at most 16 pairs (fields leave room for the ones this system adds)."""


def first_error(err: ValidationError) -> tuple[str, str]:
    """The first problem pydantic found, as (dotted field path, message), for one-line errors."""
    problem = err.errors(include_url=False)[0]
    return ".".join(str(part) for part in problem["loc"]), problem["msg"]


def first_words(text: str, limit: int = 80) -> str:
    """The start of `text` on one line, for summaries in the Temporal UI."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


class Contract(BaseModel):
    """A payload from a caller: unknown fields are an error, so a misspelt field name is
    reported at once instead of ignored. Inputs of workflows, updates and signals only."""

    model_config = ConfigDict(extra="forbid")


class Record(BaseModel):
    """A payload this system's own code writes and reads: step arguments and results, query
    results, workflow results, continue-as-new carries. Unknown fields are ignored, so during
    a rolling deploy old code reads what new code wrote (a new field is only ever added with
    a default, never renamed) and new code reads old payloads."""

    model_config = ConfigDict(extra="ignore")


class Carrier(Contract):
    """A caller's input that continue-as-new also carries (with `carried` set): from a caller
    unknown fields are an error; in a carry, written by a newer version, they are ignored."""

    @model_validator(mode="before")
    @classmethod
    def _ignore_unknown_in_carries(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("carried") is not None:
            return {key: value for key, value in data.items() if key in cls.model_fields}
        return data


class RunPhase(StrEnum):
    """Where a run is; the terminal phases are the API's terminal statuses."""

    creating = "creating"
    queued = "queued"
    in_progress = "in_progress"
    requires_action = "requires_action"
    running_tools = "running_tools"
    awaiting_approval = "awaiting_approval"
    submitting_outputs = "submitting_outputs"
    cancelling = "cancelling"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"
    expired = "expired"
    incomplete = "incomplete"


TERMINAL_PHASES = frozenset(
    {RunPhase.completed, RunPhase.failed, RunPhase.cancelled, RunPhase.expired, RunPhase.incomplete}
)


class Usage(Record):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
        )


class RunError(Record):
    code: str
    message: str


MAX_MESSAGE_CHARS = 256_000
"""The API's limit on one message's content."""

AttachmentTool = Literal["file_search", "code_interpreter"]


def _file_search_only() -> list[AttachmentTool]:
    return ["file_search"]


class Attachment(Contract):
    file_id: str = Field(min_length=1)
    tools: list[AttachmentTool] = Field(default_factory=_file_search_only)


class ToolCall(Record):
    """A function call the model asked for."""

    id: str
    name: str
    arguments: str = Field(description="JSON text, as the model wrote it")


class ToolOutput(Record):
    """What a tool activity returns: the output for the model, and the error it describes."""

    output: str
    error: str | None = None
    attempt: int = 1


class ToolCallResult(Record):
    """A tool call and how it ended."""

    id: str
    name: str
    arguments: str
    output: str
    error: str | None = Field(None, description="error type when the output is an error")
    attempts: int = 0
    duration_seconds: float = 0.0
    summarised: bool = Field(
        False, description="arguments and output cut short: an older call of a long run"
    )


MAX_TOOL_OUTPUT_CHARS = 64_000
"""The longest tool output a run takes (local tools are cut at TOOL_OUTPUT_MAX_CHARS first)."""


class ToolOutputSubmission(Contract):
    tool_call_id: str = Field(min_length=1)
    output: str = Field(max_length=MAX_TOOL_OUTPUT_CHARS)


def tool_error(kind: str, message: str, field: str | None = None) -> ToolOutput:
    """An error the model can read as the tool's output: `{"error": {"type", "message"}}`."""
    error: dict[str, str] = {"type": kind, "message": message}
    if field is not None:
        error["field"] = field
    return ToolOutput(output=json.dumps({"error": error}), error=kind)


class RunTimeouts(Contract):
    """How long each kind of step may take; short values make tests fast."""

    heartbeat_seconds: float = Field(30.0, gt=0)
    api_call_seconds: float = Field(20 * 60.0, gt=0, description="one API step, waits included")
    request_seconds: float = Field(
        60.0, gt=0, description="a step that is a single API request (it does not heartbeat)"
    )
    api_max_attempts: int = Field(
        10, ge=1, le=100, description="per API step, for retryable errors"
    )
    api_initial_retry_seconds: float = Field(1.0, gt=0)


@dataclass(frozen=True)
class Step(Generic[A, R]):
    """An activity a workflow calls by name (each backend registers its own implementation
    under that name), with the types of its argument and result."""

    name: str
    argument: type[A]
    result: type[R]
    heartbeats: bool = True
    """False for a single quick request: no heartbeat timeout, a short start-to-close one."""


async def call_api(
    step: Step[A, R], argument: A, timeouts: RunTimeouts, summary: str, **options: Any
) -> R:
    """Execute a step that calls the OpenAI API, with the timeouts and retries of `timeouts`."""
    heartbeat = timedelta(seconds=timeouts.heartbeat_seconds) if step.heartbeats else None
    seconds = timeouts.api_call_seconds if step.heartbeats else timeouts.request_seconds
    result: R = await workflow.execute_activity(
        step.name,
        argument,
        result_type=step.result,
        start_to_close_timeout=timedelta(seconds=seconds),
        heartbeat_timeout=heartbeat,
        retry_policy=api_retries(timeouts),
        summary=summary,
        **options,
    )
    return result


async def call_api_locally(
    step: Step[A, R], argument: A, timeouts: RunTimeouts, summary: str, **options: Any
) -> R:
    """Execute a single quick API request (`step.heartbeats` False) as a local activity, in
    the worker running the workflow: one marker in the history instead of an activity's
    three events and the workflow task after them. Retries and timeouts as `call_api`."""
    assert not step.heartbeats, f"{step.name} waits: it must be an activity of its own"
    result: R = await workflow.execute_local_activity(
        step.name,
        argument,
        result_type=step.result,
        start_to_close_timeout=timedelta(seconds=timeouts.request_seconds),
        retry_policy=api_retries(timeouts),
        summary=summary,
        **options,
    )
    return result


def api_retries(timeouts: RunTimeouts) -> RetryPolicy:
    return RetryPolicy(
        initial_interval=timedelta(seconds=timeouts.api_initial_retry_seconds),
        maximum_attempts=timeouts.api_max_attempts,
        maximum_interval=MAXIMUM_RETRY_INTERVAL,
    )


Backend = Literal["assistants", "responses"]


async def choose_backend(requested: Backend | None) -> Backend:
    """The backend asked for, else the worker's OPENAI_BACKEND, recorded once (a local
    activity)."""
    if requested is not None:
        return requested
    backend: Backend = await workflow.execute_local_activity(
        "run.default_backend",
        result_type=str,
        start_to_close_timeout=timedelta(seconds=10),
        summary="which API backend",
    )
    return backend
