"""Items of the Responses API (messages, function calls, function call outputs) as responses and
conversations store and return them. No HTTP here."""

from __future__ import annotations

from typing import Any

from emulator.errors import APIError, invalid
from emulator.store import JSON, new_id

_TEXT_PARTS = ("input_text", "output_text")


def stored_items(raw_items: list[JSON], param: str) -> list[JSON]:
    """Items a request sends (already validated against the spec), each with a new id."""
    return [_stored_item(raw, f"{param}[{index}]") for index, raw in enumerate(raw_items)]


def _stored_item(raw: JSON, param: str) -> JSON:
    kind = raw.get("type") or "message"
    if kind == "message":
        return _message(raw["role"], raw["content"])
    if kind == "function_call":
        return function_call(raw["name"], raw["arguments"], raw["call_id"])
    if kind == "function_call_output":
        if not raw.get("call_id"):
            raise APIError(
                400,
                f"Missing required parameter: '{param}.call_id'.",
                param=f"{param}.call_id",
                code="missing_required_parameter",
            )
        return {
            "id": new_id("fco_"),
            "type": kind,
            "call_id": raw["call_id"],
            "output": raw["output"],
            "status": "completed",
        }
    raise invalid(
        f"Invalid value: '{kind}'. The emulator supports items of type 'message', "
        "'function_call' and 'function_call_output'.",
        param=f"{param}.type",
        code="invalid_value",
    )


def _message(role: str, content: str | list[JSON]) -> JSON:
    parts = [{"type": "input_text", "text": content}] if isinstance(content, str) else content
    if role == "assistant":
        return output_message(
            [output_text(p["text"]) if p["type"] in _TEXT_PARTS else p for p in parts]
        )
    return {
        "id": new_id("msg_"),
        "type": "message",
        "role": role,
        "status": "completed",
        "content": parts,
    }


def output_message(content: list[JSON], status: str = "completed") -> JSON:
    return {
        "id": new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": content,
    }


def output_text(text: str, annotations: list[JSON] | None = None) -> JSON:
    return {"type": "output_text", "text": text, "annotations": annotations or [], "logprobs": []}


def function_call(name: str, arguments: str, call_id: str | None = None) -> JSON:
    return {
        "id": new_id("fc_"),
        "type": "function_call",
        "status": "completed",
        "call_id": call_id or new_id("call_"),
        "name": name,
        "arguments": arguments,
    }


def item_text(item: JSON) -> str:
    """What the model reads of an item."""
    if item["type"] == "message":
        return _parts_text(item["content"])
    if item["type"] == "function_call":
        return f"{item['name']}({item['arguments']})"
    if item["type"] == "code_interpreter_call":
        return str(item.get("code") or "")
    if item["type"] == "function_call_output":
        output: Any = item["output"]
        return output if isinstance(output, str) else _parts_text(output)
    return ""


def _parts_text(parts: list[JSON]) -> str:
    return "\n".join(part["text"] for part in parts if part.get("type") in _TEXT_PARTS)


def is_user_message(item: JSON) -> bool:
    return bool(item["type"] == "message" and item["role"] == "user")
