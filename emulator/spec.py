"""The OpenAPI contract (`openapi.json`, extracted from OpenAI's spec) as JSON Schema validators.

Request bodies are validated against the spec's own request schemas, and failures are reported
the way OpenAI reports them: status 400, a sentence naming the parameter, and `param`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from emulator.errors import APIError

SPEC_URI = "urn:openai:openapi"
_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a decimal",
    "boolean": "a boolean",
    "array": "an array",
    "object": "an object",
    "null": "null",
}


@cache
def spec() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(Path(__file__).with_name("openapi.json").read_text())
    return document


@cache
def _registry() -> Registry[Any]:
    resource: Resource[Any] = Resource.from_contents(spec(), default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
    return registry


def validator(schema: dict[str, Any]) -> Draft202012Validator:
    """A validator for `schema`, whose `$ref`s point into the spec."""
    return Draft202012Validator(_rebase(schema), registry=_registry())


def schema_validator(name: str) -> Draft202012Validator:
    return _validator_for_ref(f"#/components/schemas/{name}")


@cache
def _validator_for_ref(ref: str) -> Draft202012Validator:
    return validator({"$ref": ref})


@cache
def operations() -> dict[str, tuple[str, str, dict[str, Any]]]:
    """operationId -> (method, path, operation)."""
    found = {}
    for path, item in spec()["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "operationId" in operation:
                found[operation["operationId"]] = (method.upper(), path, operation)
    return found


@cache
def request_validator(operation_id: str) -> Draft202012Validator | None:
    _, _, operation = operations()[operation_id]
    content = operation.get("requestBody", {}).get("content", {})
    media = content.get("application/json") or content.get("multipart/form-data")
    return validator(media["schema"]) if media else None


def response_schema(operation_id: str, status: str = "200") -> dict[str, Any] | None:
    _, _, operation = operations()[operation_id]
    content = operation.get("responses", {}).get(status, {}).get("content", {})
    media = content.get("application/json")
    return media["schema"] if media else None


def validate_request(operation_id: str, body: Any) -> None:
    """Raise a 400 `APIError` naming the first thing wrong with `body`."""
    checker = request_validator(operation_id)
    if checker is None:
        return
    error = best_match(checker.iter_errors(body))
    if error is not None:
        raise _api_error(error)


def _rebase(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: (SPEC_URI + value if key == "$ref" and value.startswith("#") else _rebase(value))
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rebase(value) for value in node]
    return node


def param_name(path: Iterable[Any]) -> str:
    name = ""
    for part in path:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name


def _api_error(error: ValidationError) -> APIError:
    if error.validator in ("anyOf", "oneOf") and error.context:
        return _alternatives_error(error)
    param = param_name(error.absolute_path)
    kind = error.validator
    value: Any = error.instance
    bound: Any = error.validator_value
    schema: Any = error.schema
    if kind == "required":
        missing = str(error.message).split("'")[1]
        full = f"{param}.{missing}" if param else missing
        return APIError(
            400,
            f"Missing required parameter: '{full}'.",
            param=full,
            code="missing_required_parameter",
        )
    if kind == "additionalProperties":
        extra = sorted(set(value) - set(schema.get("properties", {})))
        unexpected = f"{param}.{extra[0]}" if param and extra else (extra[0] if extra else param)
        return APIError(
            400,
            f"Unrecognized request argument supplied: {unexpected}",
            param=unexpected,
            code="unknown_parameter",
        )
    if kind == "type":
        names = [bound] if isinstance(bound, str) else list(bound)
        wanted = " or ".join(_TYPE_NAMES.get(n, n) for n in names)
        return APIError(
            400,
            f"Invalid type for '{param}': expected {wanted}, but got {_json_type(value)} instead.",
            param=param,
            code="invalid_type",
        )
    if kind in ("enum", "const"):
        allowed = bound if kind == "enum" else [bound]
        listed = ", ".join(f"'{v}'" for v in allowed)
        return APIError(
            400,
            f"Invalid value: '{value}'. Supported values are: {listed}.",
            param=param,
            code="invalid_value",
        )
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        side = "below minimum" if "inimum" in kind else "above maximum"
        sign = ">=" if "inimum" in kind else "<="
        return APIError(
            400,
            f"Invalid '{param}': {_json_type(value, article=False)} {side} value. Expected a "
            f"value {sign} {bound}, but got {value} instead.",
            param=param,
            code=f"{_json_type(value, article=False)}_{side.replace(' ', '_')}_value",
        )
    if kind in ("maxItems", "minItems", "maxLength", "minLength", "maxProperties"):
        what = {
            "maxItems": "array too long",
            "minItems": "array too short",
            "maxLength": "string too long",
            "minLength": "string too short",
            "maxProperties": "too many properties",
        }[str(kind)]
        return APIError(
            400,
            f"Invalid '{param}': {what}. Expected a length of "
            f"{'at most' if str(kind).startswith('max') else 'at least'} {bound}, "
            f"but got {len(value)} instead.",
            param=param,
            code=what.replace(" ", "_"),
        )
    return APIError(400, f"Invalid value for '{param or 'body'}': {error.message}", param=param)


def _alternatives_error(error: ValidationError) -> APIError:
    """Explain a failed anyOf/oneOf by its closest branch, except when every branch rejected the
    same discriminating value (a tool's `type`, say): then list what the branches accept."""
    context = [e for e in error.context or () if e.schema != {"type": "null"}]
    branches: dict[Any, list[ValidationError]] = {}
    for branch_error in context:
        branches.setdefault(branch_error.relative_schema_path[0], []).append(branch_error)
    choices = [
        next((e for e in errors if e.validator in ("enum", "const")), None)
        for errors in branches.values()
    ]
    if choices and all(choice is not None for choice in choices):
        allowed: list[Any] = []
        for choice in choices:
            assert choice is not None
            accepted: Any = choice.validator_value
            values = accepted if choice.validator == "enum" else [accepted]
            allowed += [v for v in values if v not in allowed]
        first = choices[0]
        assert first is not None
        listed = ", ".join(f"'{v}'" for v in allowed)
        return APIError(
            400,
            f"Invalid value: '{first.instance}'. Supported values are: {listed}.",
            param=param_name(first.absolute_path),
            code="invalid_value",
        )
    closest = best_match(context)
    return _api_error(closest if closest is not None else error.context[0])


def _json_type(value: Any, article: bool = True) -> str:
    if isinstance(value, bool):
        name = "boolean"
    elif isinstance(value, int):
        name = "integer"
    elif isinstance(value, float):
        name = "decimal"
    elif isinstance(value, str):
        name = "string"
    elif isinstance(value, list):
        name = "array"
    elif value is None:
        return "null"
    else:
        name = "object"
    if not article:
        return name
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"
