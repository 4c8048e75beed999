"""Function tools: typed Python functions registered with `@tool`, run as `tool.<name>` activities.

A tool's JSON Schema is derived by pydantic from its signature, and the same model validates the
model's arguments before the function runs. Anything that goes wrong before or inside the call is
returned to the model as a readable error output (see `workflows.common.tool_error`), except
plain exceptions, which Temporal retries by the tool's retry policy first.
"""

from __future__ import annotations

import asyncio
import contextvars
import importlib
import inspect
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar, overload

import pydantic
from pydantic_core import to_jsonable_python
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.tool_schemas import arguments_model, parameters_schema, tool_definition
from workflows.common import ToolCall, ToolOutput, first_error, tool_error
from workflows.run.steps import DESCRIBE_TOOLS, ToolCatalog, ToolRetry, ToolSpec

F = TypeVar("F", bound=Callable[..., Any])
TRUNCATION_MARKER = "\n…[truncated {omitted} characters]"


class ToolError(Exception):
    """Raised by a tool for a failure the model should read and that retrying cannot fix."""


@dataclass(frozen=True)
class CallContext:
    """The tool call being executed. Activities run at least once, so a tool with side effects
    uses `idempotency_key` (stable across retries and worker restarts) to do them once."""

    call_id: str
    workflow_id: str
    attempt: int

    @property
    def idempotency_key(self) -> str:
        return f"{self.workflow_id}:{self.call_id}"


_current_call: contextvars.ContextVar[CallContext] = contextvars.ContextVar("tool_call")


def current_call() -> CallContext:
    """The call being executed; only inside a tool."""
    try:
        return _current_call.get()
    except LookupError:
        raise RuntimeError("current_call() is only available inside a running tool") from None


@dataclass(frozen=True)
class RegisteredTool:
    spec: ToolSpec
    function: Callable[..., Any]
    arguments: type[pydantic.BaseModel]


class ToolRegistry:
    """The function tools a worker knows, by name."""

    def __init__(self) -> None:
        self._tools: dict[str, RegisteredTool] = {}

    @overload
    def tool(self, function: F) -> F: ...

    @overload
    def tool(
        self,
        *,
        name: str | None = None,
        description: str | None = None,
        strict: bool = False,
        timeout: timedelta = timedelta(seconds=60),
        retry: ToolRetry | None = None,
        task_queue: str | None = None,
        external: bool = False,
        external_timeout: timedelta = timedelta(hours=1),
        requires_approval: bool = False,
    ) -> Callable[[F], F]: ...

    def tool(
        self,
        function: F | None = None,
        *,
        name: str | None = None,
        description: str | None = None,
        strict: bool = False,
        timeout: timedelta = timedelta(seconds=60),
        retry: ToolRetry | None = None,
        task_queue: str | None = None,
        external: bool = False,
        external_timeout: timedelta = timedelta(hours=1),
        requires_approval: bool = False,
    ) -> F | Callable[[F], F]:
        """Register a function as a tool; usable bare (`@tool`) or with options.
        `requires_approval`: each call waits for a person's decision before it runs."""

        def register(fn: F) -> F:
            tool_name = name or fn.__name__
            if tool_name in self._tools:
                raise ValueError(f"tool {tool_name!r} is registered twice")
            model = arguments_model(fn, tool_name)
            spec = ToolSpec(
                name=tool_name,
                description=description or inspect.getdoc(fn) or "",
                parameters=parameters_schema(model, strict),
                strict=strict,
                timeout_seconds=timeout.total_seconds(),
                retry=retry or ToolRetry(),
                task_queue=task_queue,
                external=external,
                external_timeout_seconds=external_timeout.total_seconds(),
                requires_approval=requires_approval,
            )
            self._tools[tool_name] = RegisteredTool(spec, fn, model)
            return fn

        return register(function) if function is not None else register

    def get(self, name: str) -> RegisteredTool | None:
        return self._tools.get(name)

    def spec_of(self, name: str) -> ToolSpec | None:
        registered = self._tools.get(name)
        return registered.spec if registered else None

    def __len__(self) -> int:
        return len(self._tools)

    def __iter__(self) -> Iterator[RegisteredTool]:
        return iter(sorted(self._tools.values(), key=lambda t: t.spec.name))

    def catalog(self) -> ToolCatalog:
        return ToolCatalog(tools=[registered.spec for registered in self])

    def definitions(self, backend: str) -> list[dict[str, Any]]:
        """The `tools` array to put on an assistant (or a response) for every tool."""
        return [tool_definition(registered.spec, backend) for registered in self]


registry = ToolRegistry()
tool = registry.tool


def load_tools(modules: Sequence[str]) -> ToolRegistry:
    """Import the modules whose `@tool` functions register into the default registry."""
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise ImportError(f"TOOLS_MODULES: cannot import {module!r}: {err}") from err
    return registry


async def execute(registered: RegisteredTool, call: ToolCall, context: CallContext) -> ToolOutput:
    """Validate the call's arguments and run the tool. Exceptions other than `ToolError`
    propagate, so Temporal retries them."""
    try:
        raw = json.loads(call.arguments or "{}")
    except json.JSONDecodeError as err:
        return tool_error("invalid_json", f"arguments are not valid JSON: {err}")
    try:
        arguments = registered.arguments.model_validate(raw)
    except pydantic.ValidationError as err:
        field, problem = first_error(err)
        return tool_error("invalid_arguments", f"{field or None}: {problem}", field or None)
    kwargs = {name: getattr(arguments, name) for name in type(arguments).model_fields}
    token = _current_call.set(context)
    try:
        result = await _call(registered.function, kwargs)
    except ToolError as err:
        return tool_error("tool_error", str(err))
    finally:
        _current_call.reset(token)
    return ToolOutput(output=as_text(result))


async def _call(function: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    if inspect.iscoroutinefunction(function):
        return await function(**kwargs)
    return await asyncio.to_thread(function, **kwargs)  # copies the context: current_call works


def as_text(result: Any) -> str:
    if isinstance(result, str):
        return result
    if isinstance(result, pydantic.BaseModel):
        return result.model_dump_json()
    return json.dumps(to_jsonable_python(result))


def truncate(output: ToolOutput, max_chars: int) -> ToolOutput:
    """Cap an output that would otherwise bloat workflow history and the model's context."""
    if len(output.output) <= max_chars:
        return output
    omitted = len(output.output) - max_chars
    text = output.output[:max_chars] + TRUNCATION_MARKER.format(omitted=omitted)
    return output.model_copy(update={"output": text})


class ToolActivities:
    """The activities of a registry: `tools.describe` and one `tool.<name>` per local tool."""

    def __init__(self, tools: ToolRegistry, max_output_chars: int) -> None:
        self.tools = tools
        self.max_output_chars = max_output_chars

    @activity.defn(name=DESCRIBE_TOOLS)
    async def describe_tools(self) -> ToolCatalog:
        return self.tools.catalog()

    def activities(self, task_queue: str, default_task_queue: str) -> list[Callable[..., Any]]:
        """`tools.describe` plus the tools this worker's task queue serves."""
        served = [
            self._activity_for(registered)
            for registered in self.tools
            if not registered.spec.external
            and (registered.spec.task_queue or default_task_queue) == task_queue
        ]
        return [self.describe_tools, *served]

    def _activity_for(self, registered: RegisteredTool) -> Callable[..., Any]:
        async def run_tool(call: ToolCall) -> ToolOutput:
            info = activity.info()
            context = CallContext(call.id, info.workflow_id or "", info.attempt)
            try:
                output = await execute(registered, call, context)
            except Exception as err:
                raise with_attempt(err, info.attempt) from err
            return truncate(output, self.max_output_chars).model_copy(
                update={"attempt": info.attempt}
            )

        return activity.defn(name=registered.spec.activity_type)(run_tool)


def with_attempt(err: Exception, attempt: int) -> ApplicationError:
    """A tool's failure carrying the attempt it happened on, so the model is told how many
    attempts were really made (a non-retryable failure may end the first)."""
    if isinstance(err, ApplicationError):
        return ApplicationError(
            err.message,
            attempt,
            type=err.type,
            non_retryable=err.non_retryable,
            next_retry_delay=err.next_retry_delay,
        )
    return ApplicationError(str(err), attempt, type=type(err).__name__)
