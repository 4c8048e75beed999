"""A tool's JSON Schema from its signature, and the tool objects the API takes."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, get_type_hints

import pydantic
from openai.lib._pydantic import to_strict_json_schema
from temporalio.exceptions import ApplicationError

from workflows.run.contracts import BUILT_IN_TOOLS, ToolReference
from workflows.run.steps import ToolSpec


def arguments_model(function: Callable[..., Any], name: str) -> type[pydantic.BaseModel]:
    """A pydantic model of the function's parameters (annotations, defaults, `Field`s)."""
    hints = get_type_hints(function, include_extras=True)
    fields: dict[str, Any] = {}
    for parameter in inspect.signature(function).parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise TypeError(f"tool {name!r}: *args and **kwargs have no JSON Schema")
        if parameter.name not in hints:
            raise TypeError(f"tool {name!r}: parameter {parameter.name!r} needs a type hint")
        default = ... if parameter.default is parameter.empty else parameter.default
        fields[parameter.name] = (hints[parameter.name], default)
    config = pydantic.ConfigDict(extra="forbid")
    model: type[pydantic.BaseModel] = pydantic.create_model(
        f"{name}_arguments", __config__=config, **fields
    )
    return model


def parameters_schema(model: type[pydantic.BaseModel], strict: bool) -> dict[str, Any]:
    """JSON Schema of a tool's parameters; in strict mode as Structured Outputs requires it
    (every property required, no additional properties)."""
    if strict:
        return to_strict_json_schema(model)
    schema = model.model_json_schema()
    schema.pop("title", None)
    return schema


def resolve_tools(
    registered: Callable[[str], ToolSpec | None],
    references: list[ToolReference],
    backend: str,
    vector_store_ids: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """API tool objects for registered tool names (`registered`: a name's spec, None if no
    tool has it), built-ins and literal tool objects. On the
    responses backend file_search searches `vector_store_ids` (the assistants backend takes
    them from the assistant's and thread's tool resources)."""
    resolved: list[dict[str, Any]] = []
    for reference in references:
        if isinstance(reference, dict):
            resolved.append(reference)
        elif reference in BUILT_IN_TOOLS:
            resolved.append(built_in_tool(reference, backend, vector_store_ids))
        elif (spec := registered(reference)) is not None:
            resolved.append(tool_definition(spec, backend))
        else:
            raise ApplicationError(
                f"tools: no registered tool named {reference!r}",
                type="UnknownTool",
                non_retryable=True,
            )
    return resolved


def built_in_tool(name: str, backend: str, vector_store_ids: Sequence[str]) -> dict[str, Any]:
    if backend == "assistants":
        if name == "web_search":
            raise ApplicationError(
                "tools: web_search needs the responses backend",
                type="UnknownTool",
                non_retryable=True,
            )
        return {"type": name}
    if name == "file_search":
        if not vector_store_ids:
            raise ApplicationError(
                "assistant.tool_resources: file_search needs file_search.vector_store_ids",
                type="InvalidRunRequest",
                non_retryable=True,
            )
        return {"type": name, "vector_store_ids": list(vector_store_ids)}
    if name == "code_interpreter":
        return {"type": name, "container": {"type": "auto"}}
    return {"type": name}


def tool_definition(spec: ToolSpec, backend: str) -> dict[str, Any]:
    """The entry of a `tools` array: nested under `function` for Assistants, flat for Responses."""
    function = {
        "name": spec.name,
        "description": spec.description,
        "parameters": spec.parameters,
        "strict": spec.strict,
    }
    if backend == "responses":
        return {"type": "function", **function}
    return {"type": "function", "function": function}
