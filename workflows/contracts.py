"""Every workflow input, output, query and update payload.

These JSON shapes are a public API: other services start the workflows by name with plain JSON.
New fields only with defaults; never rename a field.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DESCRIBE_TOOLS = "tools.describe"
"""Activity type returning the worker's `ToolCatalog`; tools run as `tool.<name>`."""


def first_error(err: ValidationError) -> tuple[str, str]:
    """The first problem pydantic found, as (dotted field path, message), for one-line errors."""
    problem = err.errors(include_url=False)[0]
    return ".".join(str(part) for part in problem["loc"]), problem["msg"]


class Contract(BaseModel):
    """Unknown fields are an error, so a misspelt field name is reported instead of ignored."""

    model_config = ConfigDict(extra="forbid")


class ToolRetry(Contract):
    """Temporal retry policy of a tool's activity."""

    max_attempts: int = Field(3, ge=0, description="0 means unlimited")
    initial_interval_seconds: float = Field(1.0, gt=0)
    backoff_coefficient: float = Field(2.0, ge=1)
    maximum_interval_seconds: float = Field(30.0, gt=0)


class ToolSpec(Contract):
    """A registered function tool as the workflow sees it: how to call it and how to show it
    to the model."""

    name: str
    description: str = ""
    parameters: dict[str, object] = Field(default_factory=dict, description="JSON Schema")
    strict: bool = False
    timeout_seconds: float = 60.0
    retry: ToolRetry = Field(default_factory=ToolRetry)
    task_queue: str | None = Field(None, description="None: the worker's own task queue")
    external: bool = Field(False, description="answered through the submit_tool_outputs update")
    external_timeout_seconds: float = 3600.0

    @property
    def activity_type(self) -> str:
        return f"tool.{self.name}"


class ToolCatalog(Contract):
    tools: list[ToolSpec] = Field(default_factory=list)

    def find(self, name: str) -> ToolSpec | None:
        return next((tool for tool in self.tools if tool.name == name), None)


class ToolCall(Contract):
    """A function call the model asked for."""

    id: str
    name: str
    arguments: str = Field(description="JSON text, as the model wrote it")


class ToolOutput(Contract):
    """What a tool activity returns: the output for the model, and the error it describes."""

    output: str
    error: str | None = None
    attempt: int = 1


class ToolCallResult(Contract):
    """A tool call and how it ended."""

    id: str
    name: str
    arguments: str
    output: str
    error: str | None = Field(None, description="error type when the output is an error")
    attempts: int = 0
    duration_seconds: float = 0.0


class ToolOutputSubmission(Contract):
    tool_call_id: str
    output: str


class SubmitToolOutputsRequest(Contract):
    """Update `submit_tool_outputs`: outputs of external tools, from a person or a service."""

    tool_outputs: list[ToolOutputSubmission] = Field(min_length=1)


def tool_error(kind: str, message: str, field: str | None = None) -> ToolOutput:
    """An error the model can read as the tool's output: `{"error": {"type", "message"}}`."""
    error: dict[str, str] = {"type": kind, "message": message}
    if field is not None:
        error["field"] = field
    return ToolOutput(output=json.dumps({"error": error}), error=kind)


class RunPhase(StrEnum):
    """Where a run is; the terminal phases are the API's terminal statuses."""

    creating = "creating"
    queued = "queued"
    in_progress = "in_progress"
    requires_action = "requires_action"
    running_tools = "running_tools"
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
BUILT_IN_TOOLS = frozenset({"file_search", "code_interpreter"})
ToolReference = Annotated[
    str | dict[str, Any],
    Field(description="a registered tool's name, a built-in (file_search, code_interpreter), "
          "or a tool object as the API takes it"),
]  # fmt: skip


AttachmentTool = Literal["file_search", "code_interpreter"]


def _file_search_only() -> list[AttachmentTool]:
    return ["file_search"]


class Attachment(Contract):
    file_id: str = Field(min_length=1)
    tools: list[AttachmentTool] = Field(default_factory=_file_search_only)


MAX_MESSAGE_CHARS = 256_000
"""The API's limit on one message's content."""


class InputMessage(Contract):
    role: Literal["user", "assistant"] = "user"
    content: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    attachments: list[Attachment] = Field(default_factory=list)
    metadata: dict[str, str] = Field(default_factory=dict)


class AssistantSpec(Contract):
    """An assistant ensured by name: the same spec never creates a second assistant."""

    name: str = Field(min_length=1, max_length=256)
    model: str = Field(min_length=1)
    instructions: str | None = None
    description: str | None = None
    tools: list[ToolReference] = Field(default_factory=list)
    tool_resources: dict[str, Any] | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    temperature: float | None = None
    top_p: float | None = None


class RunTimeouts(Contract):
    """How long each kind of step may take; short values make tests fast."""

    heartbeat_seconds: float = Field(30.0, gt=0)
    api_call_seconds: float = Field(20 * 60.0, gt=0, description="one API step, waits included")
    api_max_attempts: int = Field(10, ge=1, description="per API step, for retryable errors")
    api_initial_retry_seconds: float = Field(1.0, gt=0)


class RunRequest(Contract):
    """Input of `AssistantRun`."""

    assistant_id: str | None = None
    assistant: AssistantSpec | None = None
    thread_id: str | None = Field(None, description="absent: a new thread is created")
    messages: list[InputMessage] = Field(default_factory=list)
    model: str | None = None
    instructions: str | None = None
    additional_instructions: str | None = None
    tools: list[ToolReference] | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    max_prompt_tokens: int | None = Field(None, ge=256)
    max_completion_tokens: int | None = Field(None, ge=256)
    truncation_strategy: dict[str, Any] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    response_format: str | dict[str, Any] | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    deadline_seconds: float | None = Field(None, gt=0)
    vector_store_ready_seconds: float | None = Field(
        None, gt=0, description="first wait up to this long for the assistant's and thread's "
        "vector stores to finish indexing; still indexing after it: the run fails",
    )  # fmt: skip
    on_active_run: Literal["wait", "cancel", "fail"] = "wait"
    max_run_attempts: int = Field(1, ge=1, le=10)
    timeouts: RunTimeouts = Field(default_factory=RunTimeouts)

    @model_validator(mode="after")
    def _complete(self) -> RunRequest:
        if (self.assistant_id is None) == (self.assistant is None):
            raise ValueError("assistant_id, assistant: give exactly one of them")
        if self.thread_id is None and not self.messages:
            raise ValueError("messages: a new thread needs at least one message")
        return self

    def tool_names(self) -> list[tuple[str, str]]:
        """(field, name) of every tool referenced by name."""
        named = [("tools", t) for t in self.tools or [] if isinstance(t, str)]
        if self.assistant is not None:
            named += [("assistant.tools", t) for t in self.assistant.tools if isinstance(t, str)]
        return [(field, name) for field, name in named if name not in BUILT_IN_TOOLS]


class Usage(Contract):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
        )


class RunError(Contract):
    code: str
    message: str


class RunMessage(Contract):
    id: str
    role: str
    text: str
    annotations: list[dict[str, Any]] = Field(default_factory=list)
    file_ids: list[str] = Field(default_factory=list, description="images and files produced")


class RunResult(Contract):
    """Output of `AssistantRun`."""

    status: Literal["completed", "failed", "cancelled", "expired", "incomplete"]
    thread_id: str | None
    run_id: str | None
    assistant_id: str | None
    messages: list[RunMessage] = Field(default_factory=list)
    output_text: str = ""
    tool_calls: list[ToolCallResult] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    last_error: RunError | None = None
    incomplete_details: dict[str, Any] | None = None
    run_attempts: int = 0
    created_at: int | None = None
    completed_at: int | None = None
    cancel_reason: str | None = None


class RunState(Contract):
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


class CancelRequest(Contract):
    """Update `cancel` of `AssistantRun`."""

    reason: str = "cancelled on request"


RUN_OVERRIDES = frozenset({
    "model", "instructions", "additional_instructions", "tools", "temperature", "top_p",
    "max_prompt_tokens", "max_completion_tokens", "truncation_strategy", "tool_choice",
    "parallel_tool_calls", "response_format", "metadata", "deadline_seconds",
    "max_run_attempts", "timeouts", "vector_store_ready_seconds",
})  # fmt: skip
"""RunRequest fields a thread's defaults and a single message may set."""


class ThreadMessage(Contract):
    """Update `send_message` / Signal `post_message` of `AssistantThread`."""

    content: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    attachments: list[Attachment] = Field(default_factory=list)
    metadata: dict[str, str] = Field(default_factory=dict)
    overrides: dict[str, Any] = Field(
        default_factory=dict, description="RunRequest fields for this run only"
    )

    @model_validator(mode="after")
    def _known_overrides(self) -> ThreadMessage:
        unknown = sorted(set(self.overrides) - RUN_OVERRIDES)
        if unknown:
            raise ValueError(f"overrides: not a run option: {', '.join(unknown)}")
        return self


class QueuedMessage(Contract):
    id: int
    message: ThreadMessage
    answered_by_update: bool = Field(description="a send_message call waits for the result")


class RunSummary(Contract):
    message_id: int
    workflow_id: str
    run_id: str | None
    status: str
    output_text: str


class ThreadConfig(Contract):
    """Input of `AssistantThread`, workflow id `thread-{key}`."""

    key: str = Field(min_length=1)
    assistant_id: str | None = None
    assistant: AssistantSpec | None = None
    thread_id: str | None = Field(None, description="adopt this API thread; absent: created")
    defaults: dict[str, Any] = Field(default_factory=dict, description="RunRequest fields")
    idle_timeout_seconds: float = Field(24 * 3600.0, gt=0)
    delete_thread_when_done: bool = False
    runs_before_continue_as_new: int = Field(200, ge=1)
    recent_results: int = Field(10, ge=0, le=100)
    carried: ThreadCarry | None = Field(None, description="set by continue-as-new only")

    @model_validator(mode="after")
    def _valid(self) -> ThreadConfig:
        if (self.assistant_id is None) == (self.assistant is None):
            raise ValueError("assistant_id, assistant: give exactly one of them")
        unknown = sorted(set(self.defaults) - RUN_OVERRIDES)
        if unknown:
            raise ValueError(f"defaults: not a run option: {', '.join(unknown)}")
        return self


class ThreadCarry(Contract):
    """What continue-as-new carries over."""

    thread_id: str | None
    queue: list[QueuedMessage]
    next_message_id: int
    runs_done: int
    recent: list[RunSummary]


class ThreadState(Contract):
    """Query `state` of `AssistantThread`."""

    key: str
    thread_id: str | None
    queue_length: int
    current_run: str | None = Field(description="workflow id of the AssistantRun in progress")
    runs_done: int
    recent: list[RunSummary]
    closing: bool


class CloseThread(Contract):
    """Update `close`: answer what is queued, then end (optionally deleting the API thread)."""

    delete_thread: bool | None = Field(None, description="None: the config's choice")


ThreadConfig.model_rebuild()


FILE_SEARCH_EXTENSIONS = frozenset({
    ".c", ".cpp", ".cs", ".css", ".doc", ".docx", ".go", ".html", ".java", ".js", ".json", ".md",
    ".pdf", ".php", ".pptx", ".py", ".rb", ".sh", ".tex", ".ts", ".txt",
})  # fmt: skip
"""Extensions file_search indexes (OpenAI's supported-files list)."""
MAX_FILE_BYTES = 512 * 1024 * 1024


class IngestFile(Contract):
    """One file to index: a path the worker can read, an uploaded file id, or inline text."""

    path: str | None = None
    file_id: str | None = None
    text: str | None = None
    filename: str | None = Field(None, description="with `text`: the name (and extension)")
    attributes: dict[str, str | float | bool] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_source(self) -> IngestFile:
        sources = [self.path is not None, self.file_id is not None, self.text is not None]
        if sum(sources) != 1:
            raise ValueError("give exactly one of path, file_id and text")
        if self.text is not None and not self.filename:
            raise ValueError("filename: required with text")
        return self

    @property
    def source(self) -> str:
        return self.path or self.file_id or self.filename or ""


class VectorStoreSpec(Contract):
    """An existing store (`id`), or one ensured by `name` (never created twice)."""

    id: str | None = None
    name: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    expires_after: dict[str, Any] | None = None
    chunking_strategy: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _id_or_name(self) -> VectorStoreSpec:
        if (self.id is None) == (self.name is None):
            raise ValueError("vector_store: give exactly one of id and name")
        return self


class IngestRequest(Contract):
    """Input of `VectorStoreIngest`."""

    vector_store: VectorStoreSpec
    files: list[IngestFile] = Field(min_length=1)
    max_file_attempts: int = Field(3, ge=1, le=10, description="indexing attempts per file")
    batch_size: int = Field(500, ge=1, le=500, description="files per batch (API limit 500)")
    upload_concurrency: int = Field(8, ge=1, le=64)
    timeouts: RunTimeouts = Field(default_factory=RunTimeouts)


class FileOutcome(Contract):
    source: str
    file_id: str | None = None
    status: Literal["completed", "failed", "skipped", "cancelled"]
    last_error: RunError | None = None
    attempts: int = 0
    bytes: int = 0


class IngestProgress(Contract):
    """Query `progress` of `VectorStoreIngest`."""

    phase: str
    files: int
    bytes_total: int = 0
    bytes_uploaded: int = 0
    by_status: dict[str, int] = Field(default_factory=dict)


class IngestResult(Contract):
    """Output of `VectorStoreIngest`."""

    vector_store_id: str
    files: list[FileOutcome]
    file_counts: dict[str, int]
    skipped: list[FileOutcome] = Field(description="not uploaded, with the reason")


CleanupKind = Literal["threads", "vector_stores", "files"]


class CleanupPolicy(Contract):
    """Input of `Cleanup`: what may be deleted. An age of None leaves that kind alone."""

    thread_max_age_seconds: float | None = Field(None, ge=0)
    vector_store_max_age_seconds: float | None = Field(None, ge=0)
    file_max_age_seconds: float | None = Field(None, ge=0)
    metadata: dict[str, str] = Field(
        default_factory=dict, description="vector stores must carry all these metadata pairs"
    )
    workflow_query: str | None = Field(
        None, description="extra visibility filter for the runs whose threads may be deleted, "
        "e.g. TaskQueue = 'tenant-a'",
    )  # fmt: skip
    in_use_seconds: float = Field(
        24 * 3600.0, ge=0, description="a vector store of an assistant that ran within this "
        "window is in use",
    )  # fmt: skip
    delete_in_use: bool = False
    dry_run: bool = False
    max_deletions: int = Field(1000, ge=1)
    timeouts: RunTimeouts = Field(default_factory=RunTimeouts)

    @property
    def kinds(self) -> list[CleanupKind]:
        ages: list[tuple[CleanupKind, float | None]] = [
            ("threads", self.thread_max_age_seconds),
            ("vector_stores", self.vector_store_max_age_seconds),
            ("files", self.file_max_age_seconds),
        ]
        return [kind for kind, age in ages if age is not None]


class CleanupItem(Contract):
    kind: CleanupKind
    id: str
    reason: str = ""


class CleanupReport(Contract):
    """Output of `Cleanup`. In a dry run `deleted` lists what would have been deleted."""

    dry_run: bool
    deleted: list[CleanupItem] = Field(default_factory=list)
    skipped: list[CleanupItem] = Field(default_factory=list)
    failed: list[CleanupItem] = Field(default_factory=list)
