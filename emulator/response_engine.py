"""The response engine: moves responses through the Responses API lifecycle on the store's clock.

Like the run engine, responses advance lazily: whenever a request touches a response, `advance`
applies every transition due by now, each at the instant it was due. Each transition appends the
server-sent events it produces, numbered by `sequence_number`, to the response's log, which
streams replay and then follow.

    queued -> in_progress -> completed | failed | incomplete     (background responses)
              in_progress -> completed | failed | incomplete     (the others: the request waits)
    queued | in_progress -> cancelled                            (cancel, background only)

A response is one turn of the deterministic model (emulator.model), planned by
emulator.response_plan: it either calls the function tools of the next round, or answers, quoting
the tool outputs it was given, the best file search hit, or the user's message.
"""

from __future__ import annotations

import math
from typing import Any

from emulator import model, prompts, response_code, sse, vector_stores
from emulator.config import Timings
from emulator.conversations import append_items, find_conversation, items_of
from emulator.engine import FAILURE_MESSAGES
from emulator.errors import APIError, check_model_exists, invalid
from emulator.model import SearchHit, ToolCall
from emulator.response_items import (
    function_call,
    is_user_message,
    item_text,
    output_message,
    output_text,
)
from emulator.response_plan import ResponsePlan, new_plan
from emulator.store import JSON, Collection, Entry, Store, new_id

TERMINAL = frozenset({"completed", "failed", "cancelled", "incomplete"})
ACTIVE = frozenset({"queued", "in_progress"})
_DELTA_WORDS = 4


def responses(store: Store) -> Collection:
    return store.collection("responses", "response")


def stored_response(
    store: Store, response_id: str, what: str = "Response", param: str | None = None
) -> Entry:
    """A stored response, advanced to now; 404 in OpenAI's words if there is none."""
    entry = responses(store).find(response_id)
    if entry is None or not entry.private.stored:
        raise APIError(404, f"{what} with id '{response_id}' not found.", param=param)
    advance(store, entry)
    return entry


def create_response(
    store: Store, request: JSON, options: dict[str, str], timings: Timings
) -> Entry:
    """Create a response for `request` (already validated against the spec)."""
    request = _with_prompt(store, request)
    if request.get("model") is None:
        raise APIError(
            400,
            "Missing required parameter: 'model'.",
            param="model",
            code="missing_required_parameter",
        )
    check_model_exists(request["model"])
    history, conversation_id = _history(store, request)
    plan = new_plan(store, request, history, options, timings)
    plan.conversation_id = conversation_id
    response = _response_object(store, request, conversation_id)
    entry = responses(store).add(response["id"], response, plan)
    store.counters.count("responses_created")
    _count_by_workflow(store, request, plan)
    _emit(plan, "response.created", {"response": response})
    _emit(plan, f"response.{response['status']}", {"response": response})
    return entry


def _with_prompt(store: Store, request: JSON) -> JSON:
    """A request that references a prompt takes its model, instructions and tools (the
    request's own values come first), and the prompt as resolved."""
    reference = request.get("prompt")
    if reference is None:
        return request
    resolved = prompts.resolve(store, reference)
    defaults: JSON = {key: resolved[key] for key in ("model", "tools") if key in resolved}
    instructions = "\n\n".join(
        part for part in (resolved["instructions"], request.get("instructions")) if part
    )
    prompt = {**reference, "version": resolved["version"]}
    return {**defaults, **request, "instructions": instructions or None, "prompt": prompt}


def _count_by_workflow(store: Store, request: JSON, plan: ResponsePlan) -> None:
    """Responses and user messages per `metadata.workflow_id`, so tests can tell that a
    durable caller created each exactly once."""
    workflow_id = (request.get("metadata") or {}).get("workflow_id")
    if not workflow_id:
        return
    store.counters.count("responses_by_workflow", workflow_id)
    users = sum(1 for item in plan.input_items if is_user_message(item))
    if users:
        store.counters.count("user_turns_by_workflow", workflow_id)
        store.counters.count("user_messages_by_workflow", workflow_id, users)


def advance(store: Store, entry: Entry) -> None:
    """Apply every transition of this response that is due by now."""
    response = entry.public
    now = store.clock()
    while response["status"] in ACTIVE:
        at = next_change_at(entry)
        if at > now:
            return
        if response["status"] == "queued":
            _start(entry, at)
        else:
            _think(store, entry, at)


def next_change_at(entry: Entry) -> float:
    """When this response will next change on its own (infinity: it never will)."""
    status = entry.public["status"]
    if status not in ACTIVE:
        return math.inf
    due: float = entry.private.phase_since + entry.private.durations[status]
    return due


def cancel(store: Store, entry: Entry) -> None:
    advance(store, entry)
    response = entry.public
    status = response["status"]
    if not response["background"]:
        raise invalid("Cannot cancel a synchronous response.")
    if status == "cancelled":
        return
    if status in TERMINAL:
        article = "an" if status[0] in "aeiou" else "a"
        raise invalid(f"Cannot cancel {article} {status} response.")
    response["status"] = "cancelled"
    store.counters.count("responses_cancelled")


def _history(store: Store, request: JSON) -> tuple[list[JSON], str | None]:
    """The items before this response's input, and the conversation it continues."""
    previous_id = request.get("previous_response_id")
    conversation = request.get("conversation")
    if previous_id and conversation:
        raise invalid(
            "Mutually exclusive parameters: Ensure you are only providing one of: "
            "'previous_response_id' or 'conversation'.",
            code="mutually_exclusive_parameters",
        )
    if previous_id:
        previous = stored_response(store, previous_id, "Previous response", "previous_response_id")
        if previous.public["status"] in ACTIVE:
            raise invalid(
                f"Previous response with id '{previous_id}' is still {previous.public['status']}.",
                param="previous_response_id",
            )
        return previous.private.context + previous.public["output"], None
    if conversation:
        conversation_id = conversation if isinstance(conversation, str) else conversation["id"]
        find_conversation(store, conversation_id, param="conversation")
        return items_of(store, conversation_id), conversation_id
    return [], None


def _start(entry: Entry, at: float) -> None:
    entry.public["status"] = "in_progress"
    entry.private.phase_since = at
    _emit(entry.private, "response.in_progress", {"response": entry.public})


def _think(store: Store, entry: Entry, at: float) -> None:
    response, plan = entry.public, entry.private
    if plan.fail_code is not None:
        response["error"] = {
            "code": plan.fail_code,
            "message": FAILURE_MESSAGES.get(plan.fail_code, plan.fail_code),
        }
        _finish(store, entry, "failed", at)
    elif plan.calls:
        for call in plan.calls:
            _call_tool(entry, call)
        _finish(store, entry, "completed", at)
    else:
        _answer(store, entry, at)


def _call_tool(entry: Entry, call: ToolCall) -> None:
    response, plan = entry.public, entry.private
    item = function_call(call.name, call.arguments)
    where = {"item_id": item["id"], "output_index": len(response["output"])}
    _emit(
        plan,
        "response.output_item.added",
        {
            "output_index": where["output_index"],
            "item": {**item, "status": "in_progress", "arguments": ""},
        },
    )
    _emit(plan, "response.function_call_arguments.delta", {**where, "delta": call.arguments})
    _emit(
        plan,
        "response.function_call_arguments.done",
        {**where, "name": call.name, "arguments": call.arguments},
    )
    _add_output(entry, item)


def _answer(store: Store, entry: Entry, at: float) -> None:
    response, plan = entry.public, entry.private
    if plan.code is not None:
        text, annotations = _code_interpreter_call(store, entry)
    else:
        text, annotations = _answer_text(store, entry)
    status = "completed"
    limit = response["max_output_tokens"]
    if limit is not None and model.count_tokens(text) > limit:
        text = model.truncate_tokens(text, limit)
        annotations = [a for a in annotations if _end(a) <= len(text)]
        status = "incomplete"
        response["incomplete_details"] = {"reason": "max_output_tokens"}
    _emit_message(entry, output_message([output_text(text, annotations)], status))
    _finish(store, entry, status, at)


def _end(annotation: JSON) -> int:
    """Where an annotation ends: a citation at an index, or one of a span of the text."""
    end: int = annotation["end_index"] if "end_index" in annotation else annotation["index"]
    return end


def _answer_text(store: Store, entry: Entry) -> tuple[str, list[JSON]]:
    """What the model says, quoting tool outputs, the best file search hit, or the message."""
    plan = entry.private
    hits = (
        vector_stores.search(store, plan.search_store_ids, plan.user_text, plan.search_max_results)
        if plan.search_store_ids and not plan.tool_results
        else []
    )
    if hits:
        _file_search_call(entry, hits)
    answer = model.answer(plan.user_text, plan.tool_results, hits)
    annotations: list[JSON] = [
        {
            "type": "file_citation",
            "file_id": hit.file_id,
            "filename": hit.filename,
            "index": len(answer.text),
        }
        for hit in answer.citations
    ]
    return answer.text, annotations


def _code_interpreter_call(store: Store, entry: Entry) -> tuple[str, list[JSON]]:
    """The response's code interpreter call as an output item and its events; the answer that
    cites the files it wrote."""
    plan = entry.private
    result = response_code.run(store, plan.code, plan.user_text)
    item = result.item
    where = {"item_id": item["id"], "output_index": len(entry.public["output"])}
    started = {**item, "status": "in_progress", "code": "", "outputs": None}
    _emit(
        plan, "response.output_item.added", {"output_index": where["output_index"], "item": started}
    )
    for name, payload in response_code.code_events(item):
        _emit(plan, name, {**where, **payload})
    _add_output(entry, item)
    return result.answer, result.annotations


def _file_search_call(entry: Entry, hits: list[SearchHit]) -> None:
    plan = entry.private
    results = [
        {
            "file_id": hit.file_id,
            "filename": hit.filename,
            "score": hit.score,
            "text": hit.text,
            "attributes": {},
        }
        for hit in hits
    ]
    item = {
        "id": new_id("fs_"),
        "type": "file_search_call",
        "status": "completed",
        "queries": [plan.user_text],
        "results": results if plan.include_search_results else None,
    }
    where = {"item_id": item["id"], "output_index": len(entry.public["output"])}
    _emit(
        plan,
        "response.output_item.added",
        {
            "output_index": where["output_index"],
            "item": {**item, "status": "in_progress", "results": None},
        },
    )
    for phase in ("in_progress", "searching", "completed"):
        _emit(plan, f"response.file_search_call.{phase}", where)
    _add_output(entry, item)


def _emit_message(entry: Entry, message: JSON) -> None:
    plan = entry.private
    part = message["content"][0]
    where = {
        "item_id": message["id"],
        "output_index": len(entry.public["output"]),
        "content_index": 0,
    }
    _emit(
        plan,
        "response.output_item.added",
        {
            "output_index": where["output_index"],
            "item": {**message, "status": "in_progress", "content": []},
        },
    )
    _emit(plan, "response.content_part.added", {**where, "part": output_text("")})
    words = part["text"].split(" ")
    for start in range(0, len(words), _DELTA_WORDS):
        chunk = " ".join(words[start : start + _DELTA_WORDS])
        delta = chunk if start == 0 else " " + chunk
        _emit(plan, "response.output_text.delta", {**where, "delta": delta, "logprobs": []})
    for index, annotation in enumerate(part["annotations"]):
        _emit(
            plan,
            "response.output_text.annotation.added",
            {**where, "annotation_index": index, "annotation": annotation},
        )
    _emit(plan, "response.output_text.done", {**where, "text": part["text"], "logprobs": []})
    _emit(plan, "response.content_part.done", {**where, "part": part})
    _add_output(entry, message)


def _add_output(entry: Entry, item: JSON) -> None:
    index = len(entry.public["output"])
    entry.public["output"].append(item)
    _emit(entry.private, "response.output_item.done", {"output_index": index, "item": item})


def _finish(store: Store, entry: Entry, status: str, at: float) -> None:
    response, plan = entry.public, entry.private
    response["status"] = status
    if status == "completed":
        response["completed_at"] = int(at)
    output_tokens = sum(model.count_tokens(item_text(item)) for item in response["output"])
    response["usage"] = _usage(plan.input_tokens, output_tokens)
    if plan.conversation_id is not None and status != "failed":
        append_items(store, plan.conversation_id, plan.input_items + response["output"])
    _emit(plan, f"response.{status}", {"response": response})


def _emit(plan: ResponsePlan, name: str, payload: JSON) -> None:
    data = {"type": name, "sequence_number": len(plan.events), **payload}
    plan.events.append((name, sse.event(name, data)))


def _usage(input_tokens: int, output_tokens: int) -> JSON:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
    }


def _response_object(store: Store, request: JSON, conversation_id: str | None) -> JSON:
    background = bool(request.get("background"))

    def given(key: str, default: Any) -> Any:
        value = request.get(key)
        return default if value is None else value

    return {
        "id": new_id("resp_"),
        "object": "response",
        "created_at": store.now(),
        "status": "queued" if background else "in_progress",
        "background": background,
        "completed_at": None,
        "conversation": {"id": conversation_id} if conversation_id else None,
        "error": None,
        "incomplete_details": None,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "max_tool_calls": request.get("max_tool_calls"),
        "metadata": given("metadata", {}),
        "model": request["model"],
        "output": [],
        "parallel_tool_calls": given("parallel_tool_calls", True),
        "previous_response_id": request.get("previous_response_id"),
        "prompt": request.get("prompt"),
        "prompt_cache_key": request.get("prompt_cache_key"),
        "reasoning": {"effort": None, "summary": None},
        "safety_identifier": request.get("safety_identifier"),
        "service_tier": "default",
        "store": given("store", True),
        "temperature": given("temperature", 1.0),
        "text": given("text", {"format": {"type": "text"}, "verbosity": "medium"}),
        "tool_choice": given("tool_choice", "auto"),
        "tools": given("tools", []),
        "top_logprobs": given("top_logprobs", 0),
        "top_p": given("top_p", 1.0),
        "truncation": given("truncation", "disabled"),
    }
