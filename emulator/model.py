"""The emulator's model: a deterministic script, so tests and demos know what it will do.

Tool calls. The user's message is split into rounds at the word "then"; each round calls, in
parallel, every function tool the round asks for (one per round, in order, when parallel tool
calls are off). A round asks for a tool when it
  * says `call NAME with ARGS` (ARGS is used verbatim, valid JSON or not, and NAME need not be
    a tool the assistant has: this is how tests provoke bad calls), or
  * contains the tool's name (`get_weather`), or every word of the name but a leading verb
    (`weather` for get_weather, `order` and `status` for get_order_status).
Arguments are filled from the round's text by the parameter JSON Schema: `name=value` or
`name: value` wins; enums take the value mentioned; strings take the next "value-like" phrase
(quoted text, a token with digits such as ORD-1234, an arithmetic expression, or a run of
Capitalised Words); numbers take the next number. A round naming several values joined by
"and" ("weather in Paris and London") calls the tool once per value, in parallel.

Answers. After tool calls, the answer quotes every tool output. With file search results it
quotes the best-matching chunk and cites its file. Otherwise it answers from the message.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_ROUND_SPLIT = re.compile(r"\bthen\b", re.IGNORECASE)
_EXPLICIT_CALL = re.compile(r"\bcall\s+(?P<name>[A-Za-z0-9_.-]+)\s+with\s+(?P<args>.+)$", re.I)
_LEADING_VERBS = {"get", "set", "fetch", "find", "lookup", "look", "do", "run", "make", "check"}
_CANDIDATE = re.compile(
    r"\"(?P<dq>[^\"]+)\"|'(?P<sq>[^']+)'"
    r"|(?P<id>\b[A-Za-z]+[-_]?\d[\w-]*\b)"
    r"|(?P<expr>[\d(][\d\s+\-*/().%^]*[\d)]|\d)"
    r"|(?P<caps>\b[A-Z][a-zA-Z]+(?:\s+[A-Z][a-zA-Z]+)*)"
)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_TOKEN = re.compile(r"\w+|[^\w\s]")


@dataclass(frozen=True)
class FunctionTool:
    name: str
    parameters: dict[str, Any]
    description: str = ""


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: str


@dataclass(frozen=True)
class SearchHit:
    file_id: str
    filename: str
    score: float
    text: str


@dataclass(frozen=True)
class Answer:
    text: str
    citations: tuple[SearchHit, ...] = ()


def count_tokens(text: str) -> int:
    return len(_TOKEN.findall(text))


def truncate_tokens(text: str, limit: int) -> str:
    tokens = list(_TOKEN.finditer(text))
    return text if len(tokens) <= limit else text[: tokens[limit].start()].rstrip()


def plan_rounds(
    message: str, tools: list[FunctionTool], parallel: bool = True
) -> list[list[ToolCall]]:
    """The tool calls the message asks for, round by round (empty: answer directly)."""
    rounds: list[list[ToolCall]] = []
    for segment in _ROUND_SPLIT.split(message):
        calls = _calls_in(segment.strip(), tools)
        if not calls:
            continue
        rounds.extend([calls] if parallel else [[call] for call in calls])
    return rounds


def answer(message: str, tool_results: list[tuple[ToolCall, str]], hits: list[SearchHit]) -> Answer:
    if tool_results:
        quoted = "; ".join(f"{call.name} returned {output}" for call, output in tool_results)
        return Answer(f"Here is what the tools said: {quoted}.")
    if hits:
        best = hits[0]
        return Answer(f'According to {best.filename}: "{best.text.strip()}"', (best,))
    text = message.strip() or "(an empty message)"
    return Answer(f'You said: "{text}". This deterministic answer comes from the emulator.')


def _calls_in(segment: str, tools: list[FunctionTool]) -> list[ToolCall]:
    explicit = _EXPLICIT_CALL.search(segment)
    if explicit:
        return [ToolCall(explicit["name"], explicit["args"].strip())]
    mentioned = sorted(
        (position, index, tool)
        for index, tool in enumerate(tools)
        if (position := _mention(segment, tool.name)) is not None
    )
    calls: list[ToolCall] = []
    # Each tool reads its arguments from its own part of the round: up to the next tool named.
    for index, (start, _, tool) in enumerate(mentioned):
        end = mentioned[index + 1][0] if index + 1 < len(mentioned) else len(segment)
        part = segment[start:end]
        calls += [ToolCall(tool.name, json.dumps(args)) for args in _argument_sets(part, tool)]
    return calls


def _mention(segment: str, name: str) -> int | None:
    """Where the segment asks for the tool `name`, if it does."""
    lowered = segment.lower()
    literal = lowered.find(name.lower())
    if literal >= 0:
        return literal
    words = [w for w in re.split(r"[_\-.]+|(?<=[a-z])(?=[A-Z])", name) if w]
    if len(words) > 1 and words[0].lower() in _LEADING_VERBS:
        words = words[1:]
    found = [re.search(rf"\b{re.escape(w.lower())}", lowered) for w in words]
    if not words or not all(found):
        return None
    return min(match.start() for match in found if match is not None)


def _candidates(segment: str, tool_name: str) -> list[str]:
    trigger_words = {w.lower() for w in re.split(r"[_\-.]+", tool_name)}
    found = []
    for match in _CANDIDATE.finditer(segment):
        value = next(v for v in match.groupdict().values() if v is not None).strip()
        sentence_start = match.start() == 0 or value.lower() in trigger_words
        if match["caps"] is not None and (sentence_start or value in ("I", "What")):
            continue
        found.append(value)
    return found


def _argument_sets(segment: str, tool: FunctionTool) -> list[dict[str, Any]]:
    schema = tool.parameters or {}
    candidates = _candidates(segment, tool.name)
    first_string = next(
        (
            name
            for name, prop in _properties(schema).items()
            if _is_free_string(_resolve(schema, prop))
        ),
        None,
    )
    several = len(candidates) > 1 and re.search(r"\band\b", segment, re.I)
    if first_string and several and not _explicit_value(segment, first_string):
        return [
            _fill(schema, schema, segment, [value] + [c for c in candidates if c != value])
            for value in candidates
        ]
    return [_fill(schema, schema, segment, candidates)]


def _is_free_string(prop: dict[str, Any]) -> bool:
    return prop.get("type") == "string" and "enum" not in prop


def _properties(schema: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = schema.get("properties", {})
    return props


def _resolve(root: dict[str, Any], prop: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[-1]
        return _resolve(root, root.get("$defs", root.get("definitions", {})).get(name, {}))
    for key in ("anyOf", "oneOf"):
        if key in prop:
            options = [p for p in prop[key] if p.get("type") != "null"]
            if options:
                return _resolve(root, {**options[0], **{k: v for k, v in prop.items() if k != key}})
    return prop


def _explicit_value(segment: str, name: str) -> str | None:
    match = re.search(rf"\b{re.escape(name)}\s*[=:]\s*(\"[^\"]*\"|'[^']*'|[^\s,;]+)", segment)
    return match.group(1).strip("\"'") if match else None


def _fill(
    root: dict[str, Any], schema: dict[str, Any], segment: str, candidates: list[str]
) -> dict[str, Any]:
    arguments: dict[str, Any] = {}
    required = set(schema.get("required", []))
    numbers = [n for n in _NUMBER.findall(segment)]
    for name, raw_prop in _properties(schema).items():
        prop = _resolve(root, raw_prop)
        value = _value_for(root, name, prop, segment, candidates, numbers)
        if value is not None:
            arguments[name] = value
        elif name in required:
            arguments[name] = _placeholder(prop, segment)
    return arguments


def _value_for(
    root: dict[str, Any],
    name: str,
    prop: dict[str, Any],
    segment: str,
    candidates: list[str],
    numbers: list[str],
) -> Any:
    explicit = _explicit_value(segment, name)
    kind = prop.get("type")
    if "enum" in prop:
        lowered = segment.lower()
        mentioned = [v for v in prop["enum"] if isinstance(v, str) and v.lower() in lowered]
        return mentioned[0] if mentioned else (explicit if explicit in prop["enum"] else None)
    if kind == "string":
        return explicit if explicit is not None else (candidates.pop(0) if candidates else None)
    if kind in ("integer", "number"):
        raw = explicit if explicit is not None else (numbers.pop(0) if numbers else None)
        if raw is None:
            return None
        try:
            return int(float(raw)) if kind == "integer" else float(raw)
        except ValueError:
            return None
    if kind == "boolean":
        return explicit.lower() in ("true", "yes", "1") if explicit else None
    if kind == "array":
        items = _resolve(root, prop.get("items", {}))
        if items.get("type") == "string" and candidates:
            taken, candidates[:] = list(candidates), []
            return taken
        return None
    if kind == "object" and "properties" in prop:
        return _fill(root, prop, segment, candidates)
    return None


def _placeholder(prop: dict[str, Any], segment: str) -> Any:
    kind = prop.get("type")
    if "enum" in prop:
        return prop["enum"][0]
    return {
        "string": segment,
        "integer": 0,
        "number": 0,
        "boolean": False,
        "array": [],
        "object": {},
    }.get(str(kind), segment)
