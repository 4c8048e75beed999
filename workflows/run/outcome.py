"""What a run comes to: its result (`RunResult`, the workflow's output) and its state (query
`state`), with the messages, code and files in them. Public contracts, like the request's: new
fields only with defaults; never rename a field."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from workflows.common import Record, RunError, RunPhase, ToolCall, ToolCallResult, Usage


class RunMessage(Record):
    id: str
    role: str
    text: str
    annotations: list[dict[str, Any]] = Field(default_factory=list)
    file_ids: list[str] = Field(default_factory=list, description="images and files produced")


class CodeInterpreterCall(Record):
    """Python the model ran in OpenAI's sandbox: its code, its logs, the images it made."""

    id: str
    code: str = ""
    logs: str = ""
    image_file_ids: list[str] = Field(default_factory=list)
    container_id: str | None = Field(None, description="responses backend: its container")


class GeneratedFile(Record):
    """A file the model generated (a chart, a CSV): in the Files API, or in a container on
    the responses backend."""

    file_id: str
    name: str
    bytes: int | None = None
    mime_type: str | None = None
    container_id: str | None = Field(None, description="responses backend: where it lives")
    path: str | None = Field(None, description="where it was downloaded (`download_to`)")
    download_error: str | None = Field(
        None, description="why it could not be downloaded (it is still in the API)"
    )


class RunResult(Record):
    """Output of `AssistantRun`."""

    status: Literal["completed", "failed", "cancelled", "expired", "incomplete"]
    thread_id: str | None
    run_id: str | None
    assistant_id: str | None
    messages: list[RunMessage] = Field(default_factory=list)
    output_text: str = ""
    tool_calls: list[ToolCallResult] = Field(
        default_factory=list,
        description="the last 20 whole, older ones summarised, at most 200 kept",
    )
    tool_calls_omitted: int = Field(0, description="tool calls too old to be kept")
    usage: Usage = Field(default_factory=Usage)
    last_error: RunError | None = None
    incomplete_details: dict[str, Any] | None = None
    run_attempts: int = 0
    created_at: int | None = None
    completed_at: int | None = None
    cancel_reason: str | None = None
    model: str | None = Field(None, description="the model of the run that gave this result")
    models_tried: list[str] = Field(
        default_factory=list, description="the models the attempts ran on, in order"
    )
    cost_usd: float | None = Field(
        None,
        description="estimated cost in USD of `usage` (all attempts), from the worker's price "
        "table; None: a model used has no price there",
    )
    tool_rounds: int = Field(0, description="rounds of tool calls answered in the last attempt")
    code_interpreter_calls: list[CodeInterpreterCall] = Field(default_factory=list)
    files: list[GeneratedFile] = Field(
        default_factory=list, description="files the model generated, downloaded if asked"
    )
    thread_root: str | None = Field(
        None,
        description="responses backend: the first response of the conversation this run "
        "continues, the same for all its runs (what the `OpenAIThreadId` search attribute "
        "holds); None: a thread this system did not begin",
    )


class RunState(Record):
    """Query `state` of `AssistantRun`."""

    phase: RunPhase
    thread_id: str | None = None
    run_id: str | None = None
    assistant_id: str | None = None
    pending_tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_calls: list[ToolCallResult] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    expires_at: int | None = None
    run_attempts: int = 0
    pending_approvals: list[ToolCall] = Field(
        default_factory=list, description="tool calls waiting for a person's decision"
    )
    model: str | None = None
    cost_usd: float | None = Field(None, description="estimated so far; None: unknown")
    tool_rounds: int = 0
