"""Tool registry: schemas from signatures, argument validation, outputs and error outputs."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from activities.tool_schemas import tool_definition
from activities.tools import (
    CallContext,
    ToolError,
    ToolRegistry,
    as_text,
    current_call,
    execute,
    load_tools,
    truncate,
)
from workflows.contracts import ToolCall, ToolOutput, ToolRetry

CONTEXT = CallContext(call_id="call_1", workflow_id="wf-1", attempt=1)


class Color(StrEnum):
    red = "red"
    blue = "blue"


class Address(BaseModel):
    street: str
    zip_code: str = Field(description="postal code")


def run(registry: ToolRegistry, name: str, arguments: str) -> ToolOutput:
    registered = registry.get(name)
    assert registered is not None
    return asyncio.run(
        execute(registered, ToolCall(id="call_1", name=name, arguments=arguments), CONTEXT)
    )


def schema_of(function: Any, strict: bool = False) -> dict[str, Any]:
    registry = ToolRegistry()
    registry.tool(strict=strict)(function)
    return next(iter(registry)).spec.parameters


def error_of(output: ToolOutput) -> dict[str, str]:
    error: dict[str, str] = json.loads(output.output)["error"]
    assert output.error == error["type"]
    return error


def test_scalar_parameters_become_typed_required_properties() -> None:
    def f(name: str, count: int, ratio: float, enabled: bool) -> str:
        return ""

    schema = schema_of(f)
    assert schema["required"] == ["name", "count", "ratio", "enabled"]
    assert [schema["properties"][k]["type"] for k in schema["required"]] == [
        "string",
        "integer",
        "number",
        "boolean",
    ]
    assert schema["additionalProperties"] is False


def test_defaults_make_parameters_optional_and_are_shown() -> None:
    def f(city: str, days: int = 3) -> str:
        return ""

    schema = schema_of(f)
    assert schema["required"] == ["city"]
    assert schema["properties"]["days"]["default"] == 3


def test_annotated_field_descriptions_reach_the_schema() -> None:
    def f(city: Annotated[str, Field(description="city name")]) -> str:
        return ""

    assert schema_of(f)["properties"]["city"]["description"] == "city name"


def test_enums_literals_optionals_and_lists() -> None:
    def f(
        color: Color,
        mode: Literal["fast", "slow"],
        note: str | None = None,
        tags: tuple[str, ...] = (),
    ) -> str:
        return ""

    schema = schema_of(f)
    assert schema["$defs"]["Color"]["enum"] == ["red", "blue"]
    assert schema["properties"]["mode"]["enum"] == ["fast", "slow"]
    assert {"type": "null"} in schema["properties"]["note"]["anyOf"]
    assert schema["properties"]["tags"]["items"] == {"type": "string"}
    assert schema["properties"]["tags"]["type"] == "array"


def test_nested_pydantic_models_are_referenced_definitions() -> None:
    def f(address: Address) -> str:
        return ""

    schema = schema_of(f)
    assert schema["properties"]["address"] == {"$ref": "#/$defs/Address"}
    assert schema["$defs"]["Address"]["properties"]["zip_code"]["description"] == "postal code"


def test_strict_schema_requires_every_property_and_forbids_extras() -> None:
    def f(address: Address, note: str | None = None) -> str:
        return ""

    schema = schema_of(f, strict=True)
    assert sorted(schema["required"]) == ["address", "note"]
    assert schema["additionalProperties"] is False
    assert schema["$defs"]["Address"]["additionalProperties"] is False
    assert schema["$defs"]["Address"]["required"] == ["street", "zip_code"]


def test_name_description_and_options_default_from_the_function() -> None:
    registry = ToolRegistry()

    @registry.tool
    def lookup(key: str) -> str:
        """Find a value.

        More detail."""
        return key

    @registry.tool(
        name="other",
        description="explicit",
        timeout=timedelta(seconds=5),
        retry=ToolRetry(max_attempts=7),
        task_queue="elsewhere",
    )
    def hidden(key: str) -> str:
        return key

    specs = {t.spec.name: t.spec for t in registry}
    assert specs["lookup"].description == "Find a value.\n\nMore detail."
    assert specs["lookup"].activity_type == "tool.lookup"
    assert specs["other"].description == "explicit"
    assert (specs["other"].timeout_seconds, specs["other"].retry.max_attempts) == (5, 7)
    assert specs["other"].task_queue == "elsewhere"


def test_registering_a_name_twice_is_an_error() -> None:
    registry = ToolRegistry()
    registry.tool(name="x")(lambda: "")
    with pytest.raises(ValueError, match="'x' is registered twice"):
        registry.tool(name="x")(lambda: "")


def test_parameters_without_hints_or_with_varargs_are_refused() -> None:
    def untyped(city):  # type: ignore[no-untyped-def]
        return city

    def varargs(*cities: str) -> str:
        return ""

    with pytest.raises(TypeError, match="'city' needs a type hint"):
        ToolRegistry().tool(untyped)
    with pytest.raises(TypeError, match="args and \\*\\*kwargs"):
        ToolRegistry().tool(varargs)


def test_definitions_nest_for_assistants_and_are_flat_for_responses() -> None:
    registry = ToolRegistry()
    registry.tool(lambda: "")
    spec = next(iter(registry)).spec
    assert tool_definition(spec, "assistants")["function"]["name"] == "<lambda>"
    assert tool_definition(spec, "responses")["name"] == "<lambda>"


@pytest.fixture
def registry() -> ToolRegistry:
    registry = ToolRegistry()

    @registry.tool
    def add(a: int, b: int = 1) -> int:
        return a + b

    @registry.tool
    async def address(address: Address) -> Address:
        return address

    @registry.tool
    def refuse(reason: str) -> str:
        raise ToolError(reason)

    @registry.tool
    def crash() -> str:
        raise RuntimeError("boom")

    @registry.tool
    def whoami() -> str:
        call = current_call()
        return f"{call.idempotency_key} attempt {call.attempt}"

    return registry


def test_valid_arguments_run_sync_and_async_tools(registry: ToolRegistry) -> None:
    assert run(registry, "add", '{"a": 2, "b": 3}') == ToolOutput(output="5")
    output = run(registry, "address", '{"address": {"street": "Main", "zip_code": "1"}}')
    assert json.loads(output.output) == {"street": "Main", "zip_code": "1"}


def test_arguments_that_are_not_json_are_an_error_output(registry: ToolRegistry) -> None:
    error = error_of(run(registry, "add", '{"a": 2,'))
    assert error["type"] == "invalid_json"


def test_arguments_that_do_not_validate_name_the_field(registry: ToolRegistry) -> None:
    error = error_of(run(registry, "address", '{"address": {"street": "Main"}}'))
    assert (error["type"], error["field"]) == ("invalid_arguments", "address.zip_code")
    error = error_of(run(registry, "add", '{"a": "two"}'))
    assert error["field"] == "a"
    assert error_of(run(registry, "add", '{"a": 1, "c": 2}'))["field"] == "c"


def test_tool_error_is_an_output_and_other_exceptions_propagate(registry: ToolRegistry) -> None:
    assert error_of(run(registry, "refuse", '{"reason": "no such order"}')) == {
        "type": "tool_error",
        "message": "no such order",
    }
    with pytest.raises(RuntimeError, match="boom"):
        run(registry, "crash", "{}")


def test_tools_read_their_idempotency_key(registry: ToolRegistry) -> None:
    assert run(registry, "whoami", "").output == "wf-1:call_1 attempt 1"
    with pytest.raises(RuntimeError, match="only available inside a running tool"):
        current_call()


def test_outputs_are_text_and_json() -> None:
    assert as_text("plain") == "plain"
    assert json.loads(as_text({"a": [1, Color.red]})) == {"a": [1, "red"]}
    assert json.loads(as_text(Address(street="s", zip_code="z")))["zip_code"] == "z"


def test_large_outputs_are_truncated_with_a_marker() -> None:
    short = ToolOutput(output="x" * 10)
    assert truncate(short, 10) == short
    cut = truncate(ToolOutput(output="x" * 25), 10).output
    assert cut == "x" * 10 + "\n…[truncated 15 characters]"


def test_unknown_tools_module_names_the_setting() -> None:
    with pytest.raises(ImportError, match=r"TOOLS_MODULES: cannot import 'no\.such\.module'"):
        load_tools(["no.such.module"])


def test_example_tools_register_and_compute() -> None:
    from activities import example_tools  # noqa: F401
    from activities.tools import registry

    names = {t.spec.name for t in registry}
    assert {"get_weather", "calculate", "get_order_status"} <= names
    assert run(registry, "calculate", '{"expression": "(2 + 3) * 4"}').output == "20"
    assert error_of(run(registry, "calculate", '{"expression": "__import__(1)"}'))["type"] == (
        "tool_error"
    )
    assert error_of(run(registry, "get_order_status", '{"order_id": "B-1"}'))["message"] == (
        "no order B-1"
    )


@settings(max_examples=200, deadline=None)
@given(
    arguments=st.text(max_size=60)
    | st.builds(
        json.dumps,
        st.dictionaries(
            st.sampled_from(["a", "b", "c", "address"]),
            st.none() | st.integers() | st.text(max_size=5) | st.lists(st.integers(), max_size=2),
        ),
    )
)
def test_any_arguments_give_an_output_or_a_readable_error(arguments: str) -> None:
    registry = ToolRegistry()

    @registry.tool
    def add(a: int, b: int = 1) -> int:
        return a + b

    output = run(registry, "add", arguments)
    if output.error is None:
        given_arguments = json.loads(arguments or "{}")
        expected = int(given_arguments["a"]) + int(given_arguments.get("b", 1))
        assert int(output.output) == expected
    else:
        assert error_of(output)["type"] in ("invalid_json", "invalid_arguments")
