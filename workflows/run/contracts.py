"""The public contracts of `AssistantRun`: its input, result, query and updates.

These JSON shapes are a public API: other services start runs by name with plain JSON.
New fields only with defaults; never rename a field.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from workflows.common import (
    MAX_MESSAGE_CHARS,
    Attachment,
    Backend,
    Carrier,
    Contract,
    Metadata,
    RunTimeouts,
    ToolOutputSubmission,
    first_words,
)

BUILT_IN_TOOLS = frozenset({"file_search", "code_interpreter", "web_search"})
ToolReference = Annotated[
    str | dict[str, Any],
    Field(
        description="a registered tool's name, a built-in (file_search, code_interpreter, "
        "web_search), or a tool object as the API takes it"
    ),
]


MAX_FALLBACK_MODELS = 5
ModelName = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^\S+$")]


MAX_WAIT_SECONDS = 366 * 24 * 3600.0
"""The longest a run or conversation waits for anything (a deadline, an approval, idleness):
a year, well within what a Temporal timer takes."""
MAX_INSTRUCTIONS_CHARS = 256_000
MAX_TOOLS = 128
MAX_ATTACHMENTS = 20
MAX_MESSAGES = 32
"""The API's limits: instructions, tools of an assistant or run, files attached to one
message, messages given at once."""


class InputMessage(Contract):
    role: Literal["user", "assistant"] = "user"
    content: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    attachments: list[Attachment] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)
    metadata: Metadata = Field(default_factory=dict, max_length=16)


class AssistantSpec(Contract):
    """An assistant ensured by name: the same spec never creates a second assistant."""

    name: str = Field(min_length=1, max_length=256)
    model: ModelName
    instructions: str | None = Field(None, max_length=MAX_INSTRUCTIONS_CHARS)
    description: str | None = Field(None, max_length=512)
    tools: list[ToolReference] = Field(default_factory=list, max_length=MAX_TOOLS)
    tool_resources: dict[str, Any] | None = None
    metadata: Metadata = Field(
        default_factory=dict,
        max_length=12,
        description="at most 12 pairs: created_by, workflow_id, spec_hash and tenant are added",
    )
    temperature: float | None = None
    top_p: float | None = None

    def vector_store_ids(self) -> list[str]:
        """The stores its file_search searches: from `tool_resources` and file_search tools."""
        resources = (self.tool_resources or {}).get("file_search") or {}
        ids = list(resources.get("vector_store_ids") or [])
        for tool in self.tools:
            if isinstance(tool, dict) and tool.get("type") == "file_search":
                ids += tool.get("vector_store_ids") or []
        return list(dict.fromkeys(ids))


class PromptReference(Contract):
    """A reusable prompt (responses backend): its id, version and template variables."""

    id: str = Field(min_length=1)
    version: str | None = None
    variables: dict[str, str] | None = None


def who_answers(
    assistant_id: str | None, assistant: AssistantSpec | None, prompt: PromptReference | None
) -> str:
    """How the Temporal UI names who answers: the spec's name, the prompt or the assistant id."""
    if assistant is not None:
        return assistant.name
    return f"prompt {prompt.id}" if prompt else assistant_id or "?"


class RunRequest(Carrier):
    """Input of `AssistantRun`."""

    assistant_id: str | None = Field(None, description="assistants backend only")
    assistant: AssistantSpec | None = None
    prompt: PromptReference | None = Field(None, description="responses backend only")
    backend: Backend | None = Field(None, description="None: the worker's OPENAI_BACKEND")
    thread_id: str | None = Field(
        None,
        description="absent: a new thread is created; on the responses backend the response "
        "to continue from (the thread_id of an earlier result)",
    )
    messages: list[InputMessage] = Field(default_factory=list, max_length=MAX_MESSAGES)
    model: ModelName | None = None
    instructions: str | None = Field(None, max_length=MAX_INSTRUCTIONS_CHARS)
    additional_instructions: str | None = Field(None, max_length=MAX_INSTRUCTIONS_CHARS)
    tools: list[ToolReference] | None = Field(None, max_length=MAX_TOOLS)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    max_prompt_tokens: int | None = Field(None, ge=256)
    max_completion_tokens: int | None = Field(
        None, ge=256, description="on the responses backend: max_output_tokens"
    )
    truncation_strategy: dict[str, Any] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    response_format: str | dict[str, Any] | None = Field(
        None, description="on the responses backend: text.format"
    )
    reasoning_effort: Literal["minimal", "low", "medium", "high"] | None = None
    metadata: Metadata = Field(
        default_factory=dict,
        max_length=15,
        description="at most 15 pairs: idempotency_key is added (11 on the responses backend, "
        "which adds created_by, workflow_id, thread and tenant too)",
    )
    deadline_seconds: float | None = Field(None, gt=0, le=MAX_WAIT_SECONDS)
    vector_store_ready_seconds: float | None = Field(
        None,
        gt=0,
        le=24 * 3600,
        description="first wait up to this long for the assistant's and thread's vector "
        "stores to finish indexing; still indexing after it: the run fails",
    )
    download_to: str | None = Field(
        None,
        min_length=1,
        max_length=1024,
        pattern=r"^/",
        description="an absolute directory on the workers (one they share) to download the "
        "files the model generated into, once each; their paths are in `RunResult.files`",
    )
    on_active_run: Literal["wait", "cancel", "fail"] = "wait"
    max_run_attempts: int = Field(1, ge=1, le=10)
    timeouts: RunTimeouts = Field(default_factory=RunTimeouts)
    approval_required_for: list[str] = Field(
        default_factory=list,
        max_length=128,
        description="tools whose calls wait for a person's approval in this run (besides "
        "those registered with requires_approval)",
    )
    approval_timeout_seconds: float = Field(
        3600.0, gt=0, le=MAX_WAIT_SECONDS, description="a call not decided within it is denied"
    )
    stream: bool = Field(
        True,
        description="live progress shows the answer's text as the model writes it; false: "
        "each message's text arrives whole when it ends (fewest history events)",
    )
    max_total_tokens: int | None = Field(
        None,
        ge=1,
        description="token budget of the whole run, all rounds and retried attempts: once "
        "the tokens used reach it, the run stops at the next turn it would take (status "
        "incomplete, incomplete_details.reason token_budget); checked between turns, so the "
        "last turn can overshoot it",
    )
    max_tool_rounds: int | None = Field(
        None,
        ge=0,
        le=1000,
        description="rounds of tool calls an attempt may make: a model asking for one more "
        "is stopped (status incomplete, incomplete_details.reason max_tool_rounds)",
    )
    fallback_models: list[ModelName] = Field(
        default_factory=list,
        max_length=MAX_FALLBACK_MODELS,
        description="models to start the run again on, in order, after the run fails with "
        "server_error or rate_limit_exceeded (the model overloaded or unavailable); each is "
        "one more attempt besides max_run_attempts",
    )
    carried: dict[str, Any] | None = Field(
        None, description="set by continue-as-new only (between rounds of a long run)"
    )

    @model_validator(mode="after")
    def _complete(self) -> RunRequest:
        if len(set(self.fallback_models)) != len(self.fallback_models):
            raise ValueError("fallback_models: a model is listed twice")
        if self.model is not None and self.model in self.fallback_models:
            raise ValueError(f"fallback_models: {self.model} is the run's own model")
        if self.prompt is None and (self.assistant_id is None) == (self.assistant is None):
            raise ValueError("assistant_id, assistant: give exactly one of them (or a prompt)")
        if self.prompt is not None and self.assistant_id is not None:
            raise ValueError("assistant_id, prompt: give one of them")
        if self.thread_id is None and not self.messages:
            raise ValueError("messages: a new thread needs at least one message")
        return self

    def summary(self) -> str:
        """One line for the Temporal UI: who answers, and the question's first words."""
        said = self.messages[0].content if self.messages else "(continues its thread)"
        return f"{who_answers(self.assistant_id, self.assistant, self.prompt)}: {first_words(said)}"

    def tool_names(self) -> list[tuple[str, str]]:
        """(field, name) of every tool referenced by name."""
        named = [("tools", t) for t in self.tools or [] if isinstance(t, str)]
        if self.assistant is not None:
            named += [("assistant.tools", t) for t in self.assistant.tools if isinstance(t, str)]
        named += [("approval_required_for", t) for t in self.approval_required_for]
        return [(field, name) for field, name in named if name not in BUILT_IN_TOOLS]


RUN_TARGET = frozenset({"assistant_id", "assistant", "prompt", "backend", "thread_id", "messages"})
"""RunRequest fields that say which assistant runs on which thread with which messages."""
WORKFLOW_OPTIONS = frozenset(
    {
        "deadline_seconds",
        "on_active_run",
        "max_run_attempts",
        "timeouts",
        "vector_store_ready_seconds",
        "stream",
        "approval_required_for",
        "approval_timeout_seconds",
        "max_total_tokens",
        "max_tool_rounds",
        "fallback_models",
        "download_to",
        "carried",
    }
)
"""RunRequest fields the workflow acts on itself; the others are the API run's parameters."""
RUN_OVERRIDES = frozenset(RunRequest.model_fields) - RUN_TARGET - {"on_active_run", "carried"}
"""RunRequest fields a thread's defaults and a single message may set."""


RESPONSES_ONLY = ("prompt",)
RESPONSES_METADATA = 11
ASSISTANTS_ONLY = ("assistant_id", "max_prompt_tokens", "truncation_strategy")


def refused_by(backend: Backend, request: RunRequest) -> str | None:
    """What in `request` the backend cannot do, in one line naming the field; None if all fits."""
    given = request.model_dump(exclude_none=True)
    if backend == "responses":
        found = [name for name in ASSISTANTS_ONLY if name in given]
        if "assistant_id" in found:
            return (
                "assistant_id: the responses backend has no assistants: give `assistant` (a "
                "spec) or `prompt` instead (`durable-assistants migrate assistant ID` prints it)"
            )
        if found:
            return f"{found[0]}: not supported on the responses backend"
        if len(request.metadata) > RESPONSES_METADATA:
            return (
                f"metadata: at most {RESPONSES_METADATA} pairs on the responses backend (it "
                "adds idempotency_key, created_by, workflow_id, thread and tenant)"
            )
    elif "prompt" in given:
        return "prompt: reusable prompts need the responses backend"
    return None


class ApprovalDecision(Contract):
    """Update `decide_approval` of `AssistantRun`: approve or deny a tool call that waits
    for approval (refused, naming why, for a call that does not wait or was decided)."""

    call_id: str = Field(min_length=1, max_length=200)
    approved: bool
    reason: str | None = Field(None, max_length=2000)


class CancelRequest(Contract):
    """Update `cancel` of `AssistantRun`."""

    reason: str = Field("cancelled on request", max_length=2000)


class SubmitToolOutputsRequest(Contract):
    """Update `submit_tool_outputs`: outputs of external tools, from a person or a service."""

    tool_outputs: list[ToolOutputSubmission] = Field(min_length=1, max_length=MAX_TOOLS)
