"""Assistants API objects and the run contracts: runs to snapshots, messages both ways."""

from __future__ import annotations

from typing import Any

from openai.types.beta.threads import Message, Run

from activities.run.generated import files_of
from workflows.common import RunError, RunPhase, ToolCall, Usage
from workflows.run.contracts import InputMessage
from workflows.run.outcome import RunMessage
from workflows.run.steps import RunSnapshot


def snapshot(run: Run, messages: list[Message]) -> RunSnapshot:
    """What the workflow needs to know of a run (and, once it ended, of its messages)."""
    action = run.required_action
    calls = action.submit_tool_outputs.tool_calls if action is not None else []
    error = run.last_error
    converted = [run_message(m) for m in messages]
    return RunSnapshot(
        thread_id=run.thread_id,
        run_id=run.id,
        status=RunPhase(run.status),
        tool_calls=[
            ToolCall(id=c.id, name=c.function.name, arguments=c.function.arguments) for c in calls
        ],
        usage=Usage.model_validate(run.usage.model_dump()) if run.usage else None,
        model=run.model,
        last_error=RunError(code=error.code, message=error.message) if error else None,
        incomplete_details=run.incomplete_details.model_dump() if run.incomplete_details else None,
        expires_at=run.expires_at,
        created_at=run.created_at,
        completed_at=run.completed_at or run.failed_at or run.cancelled_at,
        messages=converted,
        files=files_of(converted, []),
    )


def run_message(message: Message) -> RunMessage:
    texts, annotations, file_ids = [], [], []
    for part in message.content:
        if part.type == "text":
            texts.append(part.text.value)
            annotations += [a.model_dump() for a in part.text.annotations]
            file_ids += [
                a.file_path.file_id for a in part.text.annotations if a.type == "file_path"
            ]
        elif part.type == "image_file":
            file_ids.append(part.image_file.file_id)
    file_ids += [a.file_id for a in message.attachments or [] if a.file_id]
    return RunMessage(
        id=message.id,
        role=message.role,
        text="\n".join(texts),
        annotations=annotations,
        file_ids=file_ids,
    )


def message_param(message: InputMessage) -> dict[str, Any]:
    """An `additional_messages` entry of a run's creation."""
    attachments = [
        {"file_id": a.file_id, "tools": [{"type": t} for t in a.tools]} for a in message.attachments
    ]
    return {
        "role": message.role,
        "content": message.content,
        "attachments": attachments or None,
        "metadata": message.metadata or None,
    }


def required_call_ids(run: Run) -> list[str]:
    """The tool calls whose outputs the run is waiting for, sorted."""
    if run.status != "requires_action" or run.required_action is None:
        return []
    return sorted(c.id for c in run.required_action.submit_tool_outputs.tool_calls)
