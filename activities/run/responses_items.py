"""Responses API objects and the run contracts: a run's request as response parameters, input
messages as input items, a response as the run's snapshot."""

from __future__ import annotations

from typing import Any

from openai.types.responses import Response

from activities.run.generated import files_of, responses_call
from activities.tool_schemas import resolve_tools
from activities.tools import ToolRegistry
from workflows.common import RunError, RunPhase, ToolCall, Usage
from workflows.run.contracts import InputMessage
from workflows.run.outcome import RunMessage
from workflows.run.steps import RunSnapshot, StartRun

PRODUCED = ("file_path", "container_file_citation")
"""Annotations that point at files the model produced (a file_citation points at a source)."""
INTERPRETER_LOGS = "code_interpreter_call.outputs"
PASSED_THROUGH = ("model", "temperature", "top_p", "tool_choice", "parallel_tool_calls")


def response_params(request: StartRun, tools: ToolRegistry) -> dict[str, Any]:
    """The parameters of a run's first response: the assistant spec, the prompt, then the
    run's own overrides on top; the new messages as its input."""
    spec, overrides = request.assistant, request.overrides
    params: dict[str, Any] = {}
    stores = spec.vector_store_ids() if spec else []
    if spec is not None:
        params.update(spec.model_dump(include={"model", "instructions", "temperature", "top_p"}))
        params["tools"] = resolve_tools(tools.spec_of, spec.tools, "responses", stores)
    if request.prompt is not None:
        params["prompt"] = request.prompt.model_dump(exclude_none=True)
    params.update({key: overrides[key] for key in PASSED_THROUGH if key in overrides})
    if "instructions" in overrides:
        params["instructions"] = overrides["instructions"]
    if "additional_instructions" in overrides:
        joined = [params.get("instructions"), overrides["additional_instructions"]]
        params["instructions"] = "\n\n".join(part for part in joined if part)
    if "tools" in overrides:
        params["tools"] = resolve_tools(tools.spec_of, overrides["tools"], "responses", stores)
    if "max_completion_tokens" in overrides:
        params["max_output_tokens"] = overrides["max_completion_tokens"]
    if "response_format" in overrides:
        params["text"] = {"format": _text_format(overrides["response_format"])}
    if "reasoning_effort" in overrides:
        params["reasoning"] = {"effort": overrides["reasoning_effort"]}
    params["metadata"] = dict(overrides.get("metadata") or {})
    if request.thread_id:
        params["previous_response_id"] = request.thread_id
    params["input"] = [input_item(m) for m in request.messages]
    _put_files_in_container(params, request.messages)
    with_interpreter_outputs(params)
    return {key: value for key, value in params.items() if value is not None}


def with_interpreter_outputs(params: dict[str, Any]) -> dict[str, Any]:
    """Ask for the code interpreter's logs (left out of its calls unless included)."""
    if any(tool.get("type") == "code_interpreter" for tool in params.get("tools") or []):
        params["include"] = list(dict.fromkeys([*params.get("include", []), INTERPRETER_LOGS]))
    return params


def _put_files_in_container(params: dict[str, Any], messages: list[InputMessage]) -> None:
    """Files attached for code_interpreter go into its (auto) container, where the code reads
    them; the tool is added if the run does not name it."""
    file_ids = [a.file_id for m in messages for a in m.attachments if "code_interpreter" in a.tools]
    if not file_ids:
        return
    tools = params.setdefault("tools", [])
    interpreter = next((t for t in tools if t.get("type") == "code_interpreter"), None)
    if interpreter is None:
        interpreter = {"type": "code_interpreter", "container": {"type": "auto"}}
        tools.append(interpreter)
    container = interpreter.get("container")
    if isinstance(container, dict) and container.get("type") == "auto":
        container["file_ids"] = list(dict.fromkeys([*container.get("file_ids", []), *file_ids]))


def _text_format(response_format: str | dict[str, Any]) -> dict[str, Any]:
    """An Assistants `response_format` as a Responses `text.format`."""
    if isinstance(response_format, str):  # "auto" or "text"
        return {"type": "text"}
    if response_format.get("type") == "json_schema":
        return {"type": "json_schema", **response_format.get("json_schema", {})}
    return dict(response_format)


def input_item(message: InputMessage) -> dict[str, Any]:
    """A message as an input item; files attached for file_search as `input_file` parts
    (those for code_interpreter go to its container)."""
    files = [
        {"type": "input_file", "file_id": a.file_id}
        for a in message.attachments
        if a.tools != ["code_interpreter"]
    ]
    content: str | list[dict[str, Any]] = message.content
    if files:
        content = [{"type": "input_text", "text": message.content}, *files]
    return {"type": "message", "role": message.role, "content": content}


def snapshot(response: Response) -> RunSnapshot:
    """What the workflow needs to know of a response. A completed response with function
    calls is a run that requires action; the response is both the run and the point the
    conversation continues from (`thread_id`)."""
    calls = [
        ToolCall(id=item.call_id, name=item.name, arguments=item.arguments)
        for item in response.output
        if item.type == "function_call"
    ]
    status = RunPhase(response.status or "in_progress")
    if status == RunPhase.completed and calls:
        status = RunPhase.requires_action
    error = response.error
    usage = response.usage
    messages = [_message(item) for item in response.output if item.type == "message"]
    code = [responses_call(i) for i in response.output if i.type == "code_interpreter_call"]
    return RunSnapshot(
        thread_id=response.id,
        run_id=response.id,
        status=status,
        tool_calls=calls,
        usage=Usage(
            prompt_tokens=usage.input_tokens,
            completion_tokens=usage.output_tokens,
            total_tokens=usage.total_tokens,
        )
        if usage
        else None,
        model=response.model,
        last_error=RunError(code=str(error.code), message=error.message) if error else None,
        incomplete_details=response.incomplete_details.model_dump()
        if response.incomplete_details
        else None,
        created_at=int(response.created_at),
        completed_at=int(response.completed_at) if response.completed_at else None,
        messages=messages,
        code_interpreter_calls=code,
        files=files_of(messages, code),
    )


def _message(item: Any) -> RunMessage:
    texts, annotations, file_ids = [], [], []
    for part in item.content:
        if part.type == "output_text":
            texts.append(part.text)
            annotations += [a.model_dump() for a in part.annotations]
            file_ids += [a.file_id for a in part.annotations if a.type in PRODUCED]
    return RunMessage(
        id=item.id,
        role=item.role,
        text="\n".join(texts),
        annotations=annotations,
        file_ids=file_ids,
    )
