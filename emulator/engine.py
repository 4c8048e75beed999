"""The run engine: moves runs through the Assistants API lifecycle on the store's clock.

Runs advance lazily. Whenever a request touches a run or its thread, `advance` applies every
transition due by now, each at the instant it was due, so timestamps are exact however rarely
anyone looks and nothing runs in the background. Each transition appends the server-sent
events it produces to the run's log, which streams replay and then follow.

    queued -> in_progress -> requires_action -> (outputs submitted) queued -> ... -> completed
    queued | in_progress | requires_action -> cancelling -> cancelled      (cancel)
    queued | in_progress | requires_action -> expired                     (past expires_at)
    in_progress -> failed | incomplete                                    (scripted / token limits)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from emulator import code_steps, directives, model, sse, vector_stores
from emulator.assistants import assistants
from emulator.config import Timings
from emulator.errors import invalid
from emulator.model import FunctionTool, SearchHit, ToolCall
from emulator.store import JSON, Entry, Store, new_id
from emulator.thread_data import (
    add_assistant_message,
    message_text,
    messages,
    runs,
    steps,
    thread_state,
    threads,
)

TERMINAL = frozenset({"completed", "failed", "cancelled", "expired", "incomplete"})
CANCELLABLE = frozenset({"queued", "in_progress", "requires_action"})
FAILURE_MESSAGES = {
    "server_error": "Sorry, something went wrong.",
    "rate_limit_exceeded": "You exceeded your current quota, please check your plan and "
    "billing details.",
    "invalid_prompt": "Your prompt was flagged as potentially violating our usage policy.",
}
_DELTA_WORDS = 4
PREAMBLE = "Let me look that up."
"""What the model says before its first tool calls when a run asks for `preamble=1`."""


@dataclass
class RunPlan:
    """What the emulated model will do for one run, and where it is."""

    user_text: str
    rounds: list[list[ToolCall]]
    durations: dict[str, float]
    expires_at: float
    fail_code: str | None
    fail_round: int
    preamble: bool
    search_store_ids: list[str]
    phase_since: float
    prompt_tokens: int
    rounds_done: int = 0
    tool_results: list[tuple[ToolCall, str]] = field(default_factory=list)
    step_id: str | None = None
    completion_tokens: int = 0
    step_tokens: tuple[int, int] = (0, 0)
    """(prompt, completion) tokens already reported in the usage of closed steps"""
    events: list[tuple[str, bytes]] = field(default_factory=list)
    code_file_id: str | None = None
    """the file the run's code interpreter call analyses, if it makes one"""


def create_run(
    store: Store, thread_id: str, request: JSON, options: dict[str, str], timings: Timings
) -> Entry:
    """Create a queued run for `request` (already validated); the thread must be idle."""
    assistant = assistants(store).get(request["assistant_id"]).public
    tools = request["tools"] if request.get("tools") is not None else assistant["tools"]
    raw_text = _last_user_text(store, thread_id)
    options = {**directives.directives(raw_text), **options}
    user_text = directives.strip(raw_text)
    now = store.clock()
    plan = RunPlan(
        user_text=user_text,
        rounds=_planned_rounds(user_text, tools, request),
        durations={
            "queued": directives.seconds(options, "queued", timings.queued),
            "in_progress": directives.seconds(options, "in_progress", timings.in_progress),
            "cancelling": directives.seconds(options, "cancelling", timings.cancelling),
            "delta_interval": directives.delta_interval(options, timings),
        },
        expires_at=now + directives.seconds(options, "expires_in", timings.run_expiry),
        fail_code=_scripted_failure(store, thread_id, options)
        or directives.model_failure(options, _run_model(assistant, request)),
        fail_round=directives.failure_round(options),
        preamble=options.get("preamble") == "1",
        search_store_ids=_search_store_ids(store, thread_id, assistant, tools),
        phase_since=now,
        prompt_tokens=_prompt_tokens(store, thread_id, assistant, request),
    )
    plan.code_file_id = code_steps.file_to_analyse(
        store,
        tools,
        user_text,
        [_last_user_message(store, thread_id), threads(store).get(thread_id).public, assistant],
    )
    run = _run_object(store, thread_id, assistant, request, tools, plan)
    entry = runs(store).add(run["id"], run, plan, parent=thread_id)
    thread_state(store, thread_id).active_run_id = run["id"]
    store.counters.count("runs_created")
    store.counters.count("runs_created", thread_id)
    _emit(plan, "thread.run.created", run)
    _emit(plan, "thread.run.queued", run)
    return entry


def advance(store: Store, entry: Entry) -> None:
    """Apply every transition of this run that is due by now."""
    run, plan = entry.public, entry.private
    now = store.clock()
    while run["status"] not in TERMINAL:
        at = next_change_at(entry)
        if at > now:
            return
        if at == plan.expires_at and run["status"] != "cancelling":
            _expire(store, entry, at)
        elif run["status"] == "queued":
            _start(entry, at)
        elif run["status"] == "in_progress":
            _think(store, entry, at)
        elif run["status"] == "cancelling":
            _finish(store, entry, "cancelled", at)


def advance_thread(store: Store, thread_id: str) -> None:
    active = thread_state(store, thread_id).active_run_id
    if active is not None:
        advance(store, runs(store).get(active))


def next_change_at(entry: Entry) -> float:
    """When this run will next change on its own (infinity: only a request can change it)."""
    run, plan = entry.public, entry.private
    if run["status"] in TERMINAL:
        return math.inf
    due: float = plan.phase_since + plan.durations.get(run["status"], math.inf)
    return due if run["status"] == "cancelling" else min(due, plan.expires_at)


def cancel(store: Store, entry: Entry) -> None:
    advance(store, entry)
    run, plan = entry.public, entry.private
    if run["status"] not in CANCELLABLE:
        raise invalid(f"Cannot cancel run with status '{run['status']}'.")
    run["status"] = "cancelling"
    plan.phase_since = store.clock()
    store.counters.count("runs_cancel_requested")
    _emit(plan, "thread.run.cancelling", run)


def submit_tool_outputs(store: Store, entry: Entry, outputs: list[JSON]) -> None:
    advance(store, entry)
    run, plan = entry.public, entry.private
    try:
        _check_outputs(run, outputs)
    except Exception:
        store.counters.count("tool_output_submissions", "rejected")
        raise
    store.counters.count("tool_output_submissions", "accepted")
    by_id = {output["tool_call_id"]: output.get("output", "") for output in outputs}
    step = steps(store).get(plan.step_id).public
    for call in step["step_details"]["tool_calls"]:
        call["function"]["output"] = by_id[call["id"]]
        plan.tool_results.append(
            (ToolCall(call["function"]["name"], call["function"]["arguments"]), by_id[call["id"]])
        )
    now = store.clock()
    _close_step(step, "completed", now, plan)
    run.update(status="queued", required_action=None)
    plan.phase_since = now
    _emit(plan, "thread.run.step.completed", step)
    _emit(plan, "thread.run.queued", run)


def _check_outputs(run: JSON, outputs: list[JSON]) -> None:
    if run["status"] != "requires_action":
        raise invalid(f'Runs in status "{run["status"]}" do not accept tool outputs.')
    expected = [c["id"] for c in run["required_action"]["submit_tool_outputs"]["tool_calls"]]
    given = [output.get("tool_call_id") for output in outputs]
    if sorted(expected) != sorted(given):  # type: ignore[type-var]
        raise invalid(
            f"Expected tool outputs for call_ids {expected}, got {given}",
            param="tool_outputs",
        )


def _start(entry: Entry, at: float) -> None:
    run, plan = entry.public, entry.private
    run["status"] = "in_progress"
    run["started_at"] = run["started_at"] or int(at)
    plan.phase_since = at
    _emit(plan, "thread.run.in_progress", run)


def _think(store: Store, entry: Entry, at: float) -> None:
    run, plan = entry.public, entry.private
    if plan.fail_code is not None and plan.rounds_done >= plan.fail_round:
        run["last_error"] = {
            "code": plan.fail_code,
            "message": FAILURE_MESSAGES.get(plan.fail_code, plan.fail_code),
        }
        _finish(store, entry, "failed", at)
    elif run["max_prompt_tokens"] is not None and plan.prompt_tokens > run["max_prompt_tokens"]:
        run["incomplete_details"] = {"reason": "max_prompt_tokens"}
        _finish(store, entry, "incomplete", at)
    elif plan.rounds_done < len(plan.rounds):
        _require_action(store, entry, at)
    else:
        _answer(store, entry, at)


def _require_action(store: Store, entry: Entry, at: float) -> None:
    run, plan = entry.public, entry.private
    if plan.preamble and plan.rounds_done == 0:
        _write_message(store, entry, PREAMBLE, [], "completed", at)
    calls: list[JSON] = [
        {
            "id": new_id("call_"),
            "type": "function",
            "function": {"name": call.name, "arguments": call.arguments},
        }
        for call in plan.rounds[plan.rounds_done]
    ]
    plan.rounds_done += 1
    plan.completion_tokens += sum(model.count_tokens(c["function"]["arguments"]) for c in calls)
    step = _new_step(
        store,
        run,
        "tool_calls",
        {
            "type": "tool_calls",
            "tool_calls": [
                {**call, "function": {**call["function"], "output": None}} for call in calls
            ],
        },
        at,
    )
    plan.step_id = step["id"]
    run["status"] = "requires_action"
    run["required_action"] = {
        "type": "submit_tool_outputs",
        "submit_tool_outputs": {"tool_calls": calls},
    }
    plan.phase_since = at
    _emit(plan, "thread.run.step.created", step)
    _emit(plan, "thread.run.step.in_progress", step)
    _emit(plan, "thread.run.requires_action", run)


def _answer(store: Store, entry: Entry, at: float) -> None:
    run, plan = entry.public, entry.private
    images: list[str] = []
    if plan.code_file_id is not None:
        made = _code_interpreter_step(store, entry, at)
        text, annotations = code_steps.answer(made)
        images = [made.image_file_id] if made.image_file_id else []
    else:
        hits = (
            vector_stores.search(store, plan.search_store_ids, plan.user_text, 5)
            if plan.search_store_ids and not plan.tool_results
            else []
        )
        if hits:
            _file_search_step(store, entry, hits, at)
        text, annotations = _cite(model.answer(plan.user_text, plan.tool_results, hits))
    status = "completed"
    limit = run["max_completion_tokens"]
    if limit is not None and plan.completion_tokens + model.count_tokens(text) > limit:
        text = model.truncate_tokens(text, max(0, limit - plan.completion_tokens))
        annotations = [a for a in annotations if a["end_index"] <= len(text)]
        status = "incomplete"
        run["incomplete_details"] = {"reason": "max_completion_tokens"}
    _write_message(store, entry, text, annotations, status, at, images)
    _finish(store, entry, status, at)


def _code_interpreter_step(store: Store, entry: Entry, at: float) -> code_steps.CodeCall:
    """The run's code interpreter call, as a tool_calls step whose code streams in pieces."""
    run, plan = entry.public, entry.private
    made = code_steps.call(store, plan.code_file_id, plan.user_text)
    plan.completion_tokens += model.count_tokens(made.code)
    opened = {"type": "tool_calls", "tool_calls": []}
    step = _new_step(store, run, "tool_calls", opened, at)
    _emit(plan, "thread.run.step.created", step)
    _emit(plan, "thread.run.step.in_progress", step)
    for details in code_steps.step_deltas(made):
        delta = {"id": step["id"], "object": "thread.run.step.delta"}
        _emit(plan, "thread.run.step.delta", {**delta, "delta": {"step_details": details}})
    step["step_details"] = {"type": "tool_calls", "tool_calls": [code_steps.tool_call(made)]}
    _close_step(step, "completed", at, plan)
    _emit(plan, "thread.run.step.completed", step)
    return made


def _write_message(
    store: Store,
    entry: Entry,
    text: str,
    annotations: list[JSON],
    status: str,
    at: float,
    images: list[str] | None = None,
) -> None:
    """An assistant message of the run, as its own message_creation step; `images` (file ids)
    come before its text, as the code interpreter's charts do."""
    run, plan = entry.public, entry.private
    plan.completion_tokens += model.count_tokens(text)
    message = add_assistant_message(
        store,
        run["thread_id"],
        text=text,
        annotations=annotations,
        assistant_id=run["assistant_id"],
        run_id=run["id"],
        status=status,
        created_at=int(at),
        images=images or [],
    )
    step = _new_step(
        store,
        run,
        "message_creation",
        {"type": "message_creation", "message_creation": {"message_id": message["id"]}},
        at,
    )
    _emit(plan, "thread.run.step.created", step)
    _emit(plan, "thread.run.step.in_progress", step)
    _emit_message(plan, message)
    _close_step(step, "completed", at, plan)
    _emit(plan, "thread.run.step.completed", step)


def _file_search_step(store: Store, entry: Entry, hits: list[SearchHit], at: float) -> None:
    run, plan = entry.public, entry.private
    results = [
        {
            "file_id": hit.file_id,
            "file_name": hit.filename,
            "score": hit.score,
            "content": [{"type": "text", "text": hit.text}],
        }
        for hit in hits
    ]
    details = {
        "type": "tool_calls",
        "tool_calls": [
            {
                "id": new_id("call_"),
                "type": "file_search",
                "file_search": {
                    "ranking_options": {"ranker": "default_2024_08_21", "score_threshold": 0.0},
                    "results": results,
                },
            }
        ],
    }
    step = _new_step(store, run, "tool_calls", details, at)
    _emit(plan, "thread.run.step.created", step)
    _close_step(step, "completed", at, plan)
    _emit(plan, "thread.run.step.completed", step)


def _emit_message(plan: RunPlan, message: JSON) -> None:
    """The message's events: created, a delta per image part, its text in pieces of a few
    words, its annotations in a last delta, then its final status."""
    in_progress = {**message, "status": "in_progress", "completed_at": None, "content": []}
    _emit(plan, "thread.message.created", in_progress)
    _emit(plan, "thread.message.in_progress", in_progress)

    def delta(part: JSON) -> None:
        content = {"content": [part]}
        body = {"id": message["id"], "object": "thread.message.delta", "delta": content}
        _emit(plan, "thread.message.delta", body)

    for index, part in enumerate(message["content"]):
        if part["type"] != "text":
            delta({"index": index, **part})
            continue
        words = part["text"]["value"].split(" ")
        for start in range(0, len(words), _DELTA_WORDS):
            chunk = " ".join(words[start : start + _DELTA_WORDS])
            value = chunk if start == 0 else " " + chunk
            delta({"index": index, "type": "text", "text": {"value": value, "annotations": []}})
        annotations = [{"index": i, **a} for i, a in enumerate(part["text"]["annotations"])]
        if annotations:
            delta({"index": index, "type": "text", "text": {"annotations": annotations}})
    _emit(plan, f"thread.message.{message['status']}", message)


def _expire(store: Store, entry: Entry, at: float) -> None:
    _close_open_step(store, entry, "expired", at)
    entry.public["required_action"] = None
    _finish(store, entry, "expired", at, keep_expiry=True)


def _finish(store: Store, entry: Entry, status: str, at: float, keep_expiry: bool = False) -> None:
    run, plan = entry.public, entry.private
    if status == "cancelled":
        _close_open_step(store, entry, "cancelled", at)
        run["required_action"] = None
    run["status"] = status
    stamp = {"completed": "completed_at", "failed": "failed_at", "cancelled": "cancelled_at"}
    if status in stamp:
        run[stamp[status]] = int(at)
    if not keep_expiry:
        run["expires_at"] = None
    run["usage"] = _usage(plan.prompt_tokens, plan.completion_tokens)
    state = thread_state(store, run["thread_id"])
    if state.active_run_id == run["id"]:
        state.active_run_id = None
    _emit(plan, f"thread.run.{status}", run)


def _close_open_step(store: Store, entry: Entry, status: str, at: float) -> None:
    plan = entry.private
    if plan.step_id is None:
        return
    step = steps(store).get(plan.step_id).public
    if step["status"] == "in_progress":
        _close_step(step, status, at, plan)
        _emit(plan, f"thread.run.step.{status}", step)


def _close_step(step: JSON, status: str, at: float, plan: RunPlan) -> None:
    """A step's usage is its own share of the run's: the steps' usages add up to the run's
    (the API reports a run's usage only once it has ended; its closed steps' before)."""
    step["status"] = status
    step[f"{status}_at"] = int(at)
    reported_prompt, reported_completion = plan.step_tokens
    step["usage"] = _usage(
        plan.prompt_tokens - reported_prompt, plan.completion_tokens - reported_completion
    )
    plan.step_tokens = (plan.prompt_tokens, plan.completion_tokens)


def _new_step(store: Store, run: JSON, kind: str, details: JSON, at: float) -> JSON:
    step = {
        "id": new_id("step_"),
        "object": "thread.run.step",
        "created_at": int(at),
        "assistant_id": run["assistant_id"],
        "thread_id": run["thread_id"],
        "run_id": run["id"],
        "type": kind,
        "status": "in_progress",
        "step_details": details,
        "last_error": None,
        "expired_at": None,
        "cancelled_at": None,
        "failed_at": None,
        "completed_at": None,
        "metadata": {},
        "usage": None,
    }
    steps(store).add(step["id"], step, parent=run["id"])
    return step


def _cite(answer: model.Answer) -> tuple[str, list[JSON]]:
    """The answer's text with a source marker per citation, and the matching annotations."""
    text = answer.text
    annotations = []
    for index, hit in enumerate(answer.citations):
        marker = f"【{index}†{hit.filename}】"
        start = len(text)
        text += marker
        annotations.append(
            {
                "type": "file_citation",
                "text": marker,
                "start_index": start,
                "end_index": len(text),
                "file_citation": {"file_id": hit.file_id},
            }
        )
    return text, annotations


def _emit(plan: RunPlan, name: str, data: JSON) -> None:
    plan.events.append((name, sse.event(name, data)))


def _usage(prompt: int, completion: int) -> JSON:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _last_user_message(store: Store, thread_id: str) -> JSON:
    for message in reversed(messages(store).of(thread_id)):
        if message.public["role"] == "user":
            return message.public
    return {}


def _last_user_text(store: Store, thread_id: str) -> str:
    for message in reversed(messages(store).of(thread_id)):
        if message.public["role"] == "user":
            return message_text(message.public)
    return ""


def _planned_rounds(user_text: str, tools: list[JSON], request: JSON) -> list[list[ToolCall]]:
    if request.get("tool_choice") == "none":
        return []
    functions = [
        FunctionTool(
            t["function"]["name"],
            t["function"].get("parameters") or {},
            t["function"].get("description") or "",
        )
        for t in tools
        if t["type"] == "function"
    ]
    parallel = request.get("parallel_tool_calls")
    return model.plan_rounds(user_text, functions, parallel is not False)


def _scripted_failure(store: Store, thread_id: str, options: dict[str, str]) -> str | None:
    failure = directives.failure(options, "fail")
    if failure is None:
        return None
    code, times = failure
    state = thread_state(store, thread_id)
    if times is not None and state.injected_failures >= times:
        return None
    state.injected_failures += 1
    return code


def _search_store_ids(
    store: Store, thread_id: str, assistant: JSON, tools: list[JSON]
) -> list[str]:
    if not any(tool["type"] == "file_search" for tool in tools):
        return []
    found: list[str] = []
    for owner in (assistant, threads(store).get(thread_id).public):
        resources = owner.get("tool_resources") or {}
        found += (resources.get("file_search") or {}).get("vector_store_ids", [])
    return found


def _prompt_tokens(store: Store, thread_id: str, assistant: JSON, request: JSON) -> int:
    instructions = request.get("instructions") or assistant.get("instructions") or ""
    extra = request.get("additional_instructions") or ""
    history = sum(model.count_tokens(message_text(m.public)) for m in messages(store).of(thread_id))
    return model.count_tokens(instructions) + model.count_tokens(extra) + history


def _run_object(
    store: Store, thread_id: str, assistant: JSON, request: JSON, tools: list[JSON], plan: RunPlan
) -> JSON:
    instructions = request.get("instructions")
    if instructions is None:
        instructions = assistant.get("instructions") or ""
    if request.get("additional_instructions"):
        instructions = f"{instructions}\n{request['additional_instructions']}".strip()

    def pick(key: str, default: Any) -> Any:
        value = request.get(key)
        if value is None:
            value = assistant.get(key)
        return default if value is None else value

    return {
        "id": new_id("run_"),
        "object": "thread.run",
        "created_at": store.now(),
        "thread_id": thread_id,
        "assistant_id": assistant["id"],
        "status": "queued",
        "required_action": None,
        "last_error": None,
        "expires_at": int(plan.expires_at),
        "started_at": None,
        "cancelled_at": None,
        "failed_at": None,
        "completed_at": None,
        "model": _run_model(assistant, request),
        "instructions": instructions,
        "tools": tools,
        "metadata": request.get("metadata") or {},
        "usage": None,
        "incomplete_details": None,
        "max_prompt_tokens": request.get("max_prompt_tokens"),
        "max_completion_tokens": request.get("max_completion_tokens"),
        "truncation_strategy": request.get("truncation_strategy")
        or {"type": "auto", "last_messages": None},
        "tool_choice": request.get("tool_choice") or "auto",
        "parallel_tool_calls": request.get("parallel_tool_calls") is not False,
        "response_format": pick("response_format", "auto"),
        "temperature": pick("temperature", 1.0),
        "top_p": pick("top_p", 1.0),
    }


def _run_model(assistant: JSON, request: JSON) -> str:
    """The run's model: the request's, else the assistant's."""
    return str(request.get("model") or assistant.get("model") or "gpt-4o")
