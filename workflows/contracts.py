"""Every workflow input, output, query and update payload.

These JSON shapes are a public API: other services start the workflows by name with plain JSON.
New fields only with defaults; never rename a field.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, Field

DESCRIBE_TOOLS = "tools.describe"
"""Activity type returning the worker's `ToolCatalog`; tools run as `tool.<name>`."""


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
