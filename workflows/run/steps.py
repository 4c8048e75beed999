"""What `AssistantRun` asks of its activities: step names and payloads.

Each API backend registers activities under these names, so the workflow drives either one
unchanged. Every step that reaches a decision point (the run needs tool outputs, or is
terminal) returns a `RunSnapshot`. Tools are activities too: `tools.describe` lists them (or
the start's first snapshot with tool calls carries the list), and each one runs as
`tool.<name>`.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from workflows.common import (
    Backend,
    Record,
    RunError,
    RunPhase,
    Step,
    ToolCall,
    ToolOutputSubmission,
    Usage,
)
from workflows.run.contracts import AssistantSpec, InputMessage, PromptReference
from workflows.run.outcome import CodeInterpreterCall, GeneratedFile, RunMessage

MODEL_NOT_FOUND = "ModelNotFound"
"""ApplicationError type: the API says the run's model does not exist or is not available."""
ACTIVE_RUN_CONFLICT = "ActiveRunConflict"
"""ApplicationError type: the thread has another active run (its id is the first detail)."""


def _tenant() -> Any:
    return Field(
        None, description="the tenant the HTTP gateway started the run for: what it makes is its"
    )


class CreateThread(Record):
    """Create an empty thread (messages come with the run, atomically)."""

    metadata: dict[str, str] = Field(default_factory=dict)
    tenant: str | None = _tenant()


class StartRun(Record):
    """Create a run on the thread with the new messages and follow it until it needs tool
    outputs or ends. `idempotency_key` finds the run an earlier attempt may have created.

    On the responses backend the run is a background response configured by `assistant`
    and `prompt`, continuing from the response `thread_id` (if any)."""

    backend: Backend = "assistants"
    idempotency_key: str
    assistant_id: str = ""
    assistant: AssistantSpec | None = None
    prompt: PromptReference | None = None
    thread_id: str | None
    messages: list[InputMessage]
    overrides: dict[str, Any] = Field(default_factory=dict)
    stream: bool = Field(False, description="publish the answer's text to the workflow")
    named_tools: list[tuple[str, str]] = Field(
        default_factory=list,
        description="(field, name) of the registered tools the run names: the start is "
        "refused before any request unless each is registered",
    )
    with_tool_catalog: bool = Field(
        False, description="a snapshot with tool calls carries the worker's `ToolCatalog`"
    )
    tenant: str | None = _tenant()


class RunRef(Record):
    thread_id: str
    run_id: str


class WaitForRun(Record):
    """Wait until the run needs tool outputs or ends (`until_terminal`: until it ends)."""

    backend: Backend = "assistants"
    run: RunRef
    until_terminal: bool = False


class SubmitToolOutputs(Record):
    """The outputs of a round of tool calls (on the responses backend: a new response that
    continues from the run's, configured like it)."""

    backend: Backend = "assistants"
    run: RunRef
    tool_outputs: list[ToolOutputSubmission]
    stream: bool = Field(False, description="publish the answer's text to the workflow")


class CancelRun(Record):
    """Cancel a run and wait until it is terminal. Without `run_id`, the run is looked up by
    `idempotency_key` (a start may have created it before being interrupted)."""

    backend: Backend = "assistants"
    thread_id: str | None
    run_id: str | None
    idempotency_key: str


class ToolRetry(Record):
    """Temporal retry policy of a tool's activity."""

    max_attempts: int = Field(3, ge=0, description="0 means unlimited")
    initial_interval_seconds: float = Field(1.0, gt=0)
    backoff_coefficient: float = Field(2.0, ge=1)
    maximum_interval_seconds: float = Field(30.0, gt=0)


class ToolSpec(Record):
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
    requires_approval: bool = Field(False, description="each call waits for a decision first")

    @property
    def activity_type(self) -> str:
        return f"tool.{self.name}"


class ToolCatalog(Record):
    tools: list[ToolSpec] = Field(default_factory=list)

    def find(self, name: str) -> ToolSpec | None:
        return next((tool for tool in self.tools if tool.name == name), None)


class RunSnapshot(Record):
    thread_id: str
    run_id: str | None = Field(None, description="None: no run was ever created")
    status: RunPhase
    tool_calls: list[ToolCall] = Field(default_factory=list, description="outputs required")
    usage: Usage | None = None
    model: str | None = Field(None, description="the model the run used")
    cost_usd: float | None = Field(
        None, description="estimated cost of `usage` on `model`; None: the model has no price"
    )
    last_error: RunError | None = None
    incomplete_details: dict[str, Any] | None = None
    expires_at: int | None = None
    created_at: int | None = None
    completed_at: int | None = None
    messages: list[RunMessage] = Field(default_factory=list, description="when terminal")
    code_interpreter_calls: list[CodeInterpreterCall] = Field(
        default_factory=list, description="when terminal"
    )
    files: list[GeneratedFile] = Field(default_factory=list, description="when terminal")
    tool_catalog: ToolCatalog | None = Field(
        None, description="the tools that run the calls (`StartRun.with_tool_catalog`)"
    )
    thread_root: str | None = Field(
        None,
        description="responses backend: the first response of the chain the run continues "
        "(None: a chain this system did not begin)",
    )

    @property
    def ref(self) -> RunRef:
        assert self.run_id is not None
        return RunRef(thread_id=self.thread_id, run_id=self.run_id)


class WaitForVectorStores(Record):
    """Wait until the vector stores of the assistant and the thread (or those named) have no
    file indexing."""

    backend: Backend = "assistants"
    assistant_id: str = ""
    thread_id: str | None = None
    vector_store_ids: list[str] = Field(default_factory=list)
    timeout_seconds: float


class EnsureAssistant(Record):
    spec: AssistantSpec
    tenant: str | None = _tenant()


ENSURE_ASSISTANT = Step("run.ensure_assistant", EnsureAssistant, str)
CREATE_THREAD = Step("run.create_thread", CreateThread, str, heartbeats=False)
START_RUN = Step("run.start", StartRun, RunSnapshot)
WAIT_FOR_RUN = Step("run.wait", WaitForRun, RunSnapshot)
SUBMIT_TOOL_OUTPUTS = Step("run.submit_tool_outputs", SubmitToolOutputs, RunSnapshot)
CANCEL_RUN = Step("run.cancel", CancelRun, RunSnapshot)
MODEL_STEPS = frozenset({START_RUN.name, SUBMIT_TOOL_OUTPUTS.name})
"""The steps that each send one model request per attempt (a run or response created, tool
outputs submitted): they run on the model queue, whose server-side rate limit is the fleet's."""
MODEL_QUEUE_SUFFIX = "-model"


def model_queue(task_queue: str) -> str:
    """The task queue of the model steps of workflows on `task_queue`."""
    return task_queue + MODEL_QUEUE_SUFFIX


class DownloadFile(Record):
    """Download a generated file into `directory` (once: a file already there is kept)."""

    file: GeneratedFile
    directory: str


DOWNLOAD_FILE = Step("run.download_file", DownloadFile, str)
"""Returns the downloaded file's path."""
DELETE_THREAD = Step("run.delete_thread", str, bool, heartbeats=False)
"""Delete the API thread (on responses: the chain of responses ending there) as far as the
calling workflow made it (a conversation: its runs); False if nothing of it was deleted."""
WAIT_FOR_VECTOR_STORES = Step("run.wait_for_vector_stores", WaitForVectorStores, list[str])
DEFAULT_BACKEND = "run.default_backend"
"""Local activity: the worker's OPENAI_BACKEND, for a run or conversation that names none."""
DESCRIBE_TOOLS = "tools.describe"
"""Activity type returning the worker's `ToolCatalog`; tools run as `tool.<name>`."""
