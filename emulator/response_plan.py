"""What the emulated model will do for one response: read from the request and the items
before it (the previous response chain or the conversation). No HTTP here.

The model reads the last user message (its `[[emulator ...]]` directives shape the response) and
the tool calls made since, with their outputs. Each response makes one round of calls: a run of
consecutive `function_call` items. While rounds the message asks for remain, the response calls
the next one; then it answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from emulator import directives, model, response_code
from emulator.config import Timings
from emulator.errors import APIError, invalid
from emulator.model import FunctionTool, ToolCall
from emulator.response_items import is_user_message, item_text, stored_items
from emulator.store import JSON, Store

SEARCH_RESULTS = 10


@dataclass
class ResponsePlan:
    """What the emulated model will do for one response, and where it is."""

    context: list[JSON]
    input_items: list[JSON]
    user_text: str
    calls: list[ToolCall]
    tool_results: list[tuple[ToolCall, str]]
    durations: dict[str, float]
    fail_code: str | None
    input_tokens: int
    phase_since: float
    conversation_id: str | None = None
    search_store_ids: list[str] = field(default_factory=list)
    search_max_results: int = SEARCH_RESULTS
    include_search_results: bool = False
    stored: bool = True
    events: list[tuple[str, bytes]] = field(default_factory=list)
    code: response_code.CodePlan | None = None
    """where the response's code interpreter call runs, if it makes one"""


def new_plan(
    store: Store, request: JSON, history: list[JSON], options: dict[str, str], timings: Timings
) -> ResponsePlan:
    """The plan for `request` (already validated), whose input follows the items `history`."""
    items = stored_items(_input(request), "input")
    _accept_tool_outputs(store, history, items)
    context = history + items
    raw_text = _last_user_text(context)
    options = {**directives.directives(raw_text), **options}
    user_text = directives.strip(raw_text)
    results, rounds_done = _turn_so_far(context)
    rounds = _planned_rounds(user_text, request)
    plan = ResponsePlan(
        context=context,
        input_items=items,
        user_text=user_text,
        calls=rounds[rounds_done] if rounds_done < len(rounds) else [],
        tool_results=results,
        durations=_durations(options, timings, bool(request.get("background"))),
        fail_code=(
            _scripted_failure(store, raw_text, options)
            if rounds_done >= directives.failure_round(options)
            else None
        )
        or directives.model_failure(options, str(request.get("model"))),
        input_tokens=_input_tokens(request, context),
        phase_since=store.clock(),
        include_search_results="file_search_call.results" in (request.get("include") or []),
        stored=request.get("store") is not False,
    )
    _plan_search(plan, request)
    plan.code = response_code.plan(store, request, user_text, answering=not plan.calls)
    return plan


def _input(request: JSON) -> list[JSON]:
    raw = request.get("input")
    if isinstance(raw, str):
        return [{"type": "message", "role": "user", "content": raw}]
    return list(raw or [])


def _accept_tool_outputs(store: Store, history: list[JSON], items: list[JSON]) -> None:
    outputs = [item for item in items if item["type"] == "function_call_output"]
    try:
        _check_tool_outputs(history + items, outputs)
    except APIError:
        if outputs:
            store.counters.count("function_call_outputs_rejected", amount=len(outputs))
        raise
    for output in outputs:
        store.counters.count("function_call_outputs_received")
        store.counters.count("function_call_outputs_received", output["call_id"])


def _check_tool_outputs(context: list[JSON], outputs: list[JSON]) -> None:
    """Every output answers a call, and every call has its output (OpenAI's two 400s)."""
    calls = [item["call_id"] for item in context if item["type"] == "function_call"]
    for output in outputs:
        if output["call_id"] not in calls:
            raise invalid(
                f"No tool call found for function call output with call_id {output['call_id']}.",
                param="input",
            )
    answered = {item["call_id"] for item in context if item["type"] == "function_call_output"}
    missing = next((call_id for call_id in calls if call_id not in answered), None)
    if missing is not None:
        raise invalid(f"No tool output found for function call {missing}.", param="input")


def _last_user_text(context: list[JSON]) -> str:
    return next((item_text(item) for item in reversed(context) if is_user_message(item)), "")


def _turn_so_far(context: list[JSON]) -> tuple[list[tuple[ToolCall, str]], int]:
    """The tool calls made since the last user message with their outputs, and in how many
    rounds (each response makes one round: a run of consecutive function calls)."""
    users = [index for index, item in enumerate(context) if is_user_message(item)]
    since = context[users[-1] + 1 :] if users else context
    outputs = {
        item["call_id"]: item_text(item) for item in since if item["type"] == "function_call_output"
    }
    calls = [item for item in since if item["type"] == "function_call"]
    results = [(ToolCall(c["name"], c["arguments"]), outputs.get(c["call_id"], "")) for c in calls]
    rounds = sum(
        1
        for index, item in enumerate(since)
        if item["type"] == "function_call"
        and (index == 0 or since[index - 1]["type"] != "function_call")
    )
    return results, rounds


def _planned_rounds(user_text: str, request: JSON) -> list[list[ToolCall]]:
    choice = request.get("tool_choice")
    if choice == "none":
        return []
    functions = [
        FunctionTool(tool["name"], tool.get("parameters") or {}, tool.get("description") or "")
        for tool in request.get("tools") or []
        if tool["type"] == "function" and _allowed(tool["name"], choice)
    ]
    return model.plan_rounds(user_text, functions, request.get("parallel_tool_calls") is not False)


def _allowed(name: str, choice: Any) -> bool:
    """Whether `tool_choice` lets the model call the function `name`."""
    if not isinstance(choice, dict):
        return True
    if choice["type"] == "function":
        return bool(choice["name"] == name)
    if choice["type"] == "allowed_tools":
        return name in {tool.get("name") for tool in choice["tools"]}
    return True


def _plan_search(plan: ResponsePlan, request: JSON) -> None:
    tools = [tool for tool in request.get("tools") or [] if tool["type"] == "file_search"]
    plan.search_store_ids = [store_id for tool in tools for store_id in tool["vector_store_ids"]]
    if tools and tools[0].get("max_num_results"):
        plan.search_max_results = tools[0]["max_num_results"]


def _durations(options: dict[str, str], timings: Timings, background: bool) -> dict[str, float]:
    queued = directives.seconds(options, "queued", timings.queued)
    thinking = directives.seconds(options, "in_progress", timings.in_progress)
    streamed = {"delta_interval": directives.delta_interval(options, timings)}
    if background:
        return {"queued": queued, "in_progress": thinking, **streamed}
    return {"in_progress": queued + thinking, **streamed}


def _scripted_failure(store: Store, text: str, options: dict[str, str]) -> str | None:
    """`fail=CODE*N` fails the first N responses to the same user message."""
    failure = directives.failure(options, "fail")
    if failure is None:
        return None
    code, times = failure
    tally = store.collection("response_failures", "scripted failure")
    entry = tally.find(text) or tally.add(text, {"id": text}, 0)
    failed: int = entry.private
    if times is not None and failed >= times:
        return None
    entry.private = failed + 1
    return code


def _input_tokens(request: JSON, context: list[JSON]) -> int:
    instructions = model.count_tokens(request.get("instructions") or "")
    return instructions + sum(model.count_tokens(item_text(item)) for item in context)
