"""`durable-assistants run | status | cancel`: AssistantRun from the command line."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from rich.console import Console

from workers import client as runs
from workers.connection import connect
from workers.settings import Settings, SettingsError
from workers.status import workflow_status
from workers.worker import openai_client
from workflows.common import first_error
from workflows.contracts import AssistantSpec, RunRequest, RunResult


@dataclass(frozen=True)
class RunOptions:
    messages: list[str]
    assistant_id: str | None = None
    assistant_file: Path | None = None
    thread_id: str | None = None
    files: list[Path] = field(default_factory=list)
    deadline: float | None = None
    workflow_id: str | None = None
    as_json: bool = False
    wait: bool = True
    backend: str | None = None


def load_assistant(path: Path) -> AssistantSpec:
    try:
        return AssistantSpec.model_validate(yaml.safe_load(path.read_text()))
    except OSError as err:
        raise SettingsError(f"--assistant-file: cannot read {path}: {err.strerror}") from None
    except (yaml.YAMLError, ValidationError) as err:
        raise SettingsError(f"--assistant-file: {path}: {_first_line(err)}") from None


def build_request(options: RunOptions, file_ids: list[str]) -> RunRequest:
    attachments = [{"file_id": file_id} for file_id in file_ids]
    messages = [
        {"content": text, "attachments": attachments if i == 0 else []}
        for i, text in enumerate(options.messages)
    ]
    fields: dict[str, Any] = {
        "messages": messages,
        "thread_id": options.thread_id,
        "deadline_seconds": options.deadline,
        "backend": options.backend,
    }
    if options.assistant_file is not None:
        fields["assistant"] = load_assistant(options.assistant_file)
    else:
        fields["assistant_id"] = options.assistant_id
    try:
        return RunRequest.model_validate(fields)
    except ValidationError as err:
        raise SettingsError(_first_line(err)) from None


async def run_command(settings: Settings, options: RunOptions, console: Console) -> int:
    """Start a run (uploading `--file`s first); print its answer unless `--no-wait`."""
    missing = [path for path in options.files if not path.is_file()]
    if missing:
        raise SettingsError(f"--file: {missing[0]} is not a readable file")
    build_request(options, [])  # bad arguments fail before anything is uploaded or started
    client = await connect(settings)
    uploaded = await runs.upload_files(openai_client(settings), options.files)
    file_ids = [file.file_id or "" for file in uploaded]
    request = build_request(options, file_ids)
    handle = await runs.start_run(
        client, settings.temporal_task_queue, request, options.workflow_id
    )
    link = ui_link(settings, handle.id)
    if not options.wait:
        print(json.dumps({"workflow_id": handle.id, "ui": link}) if options.as_json else handle.id)
        return 0
    console.print(f"[dim]{handle.id}  {link}[/dim]")
    result = await handle.result()
    print_result(result, options.as_json, console)
    return 0 if result.status == "completed" else 1


async def status_command(settings: Settings, workflow_id: str) -> None:
    client = await connect(settings)
    print(json.dumps(await workflow_status(client, workflow_id), indent=2))


async def cancel_command(settings: Settings, workflow_id: str, reason: str) -> None:
    state = await runs.cancel_run(await connect(settings), workflow_id, reason)
    print(state.model_dump_json(indent=2))


def print_result(result: RunResult, as_json: bool, console: Console) -> None:
    if as_json:
        print(result.model_dump_json(indent=2))
        return
    for call in result.tool_calls:
        line = f"tool {call.name}({call.arguments}) -> {call.output}"
        console.print(line, style="dim", markup=False, soft_wrap=True)
    if result.status != "completed":
        error = f": {result.last_error.message}" if result.last_error else ""
        console.print(f"{result.status}{error}", style="bold", markup=False)
    print(result.output_text, flush=True)


def ui_link(settings: Settings, workflow_id: str) -> str:
    namespace = settings.temporal_namespace or "default"
    return f"{settings.temporal_ui_url}/namespaces/{namespace}/workflows/{workflow_id}"


def _first_line(err: Exception) -> str:
    if isinstance(err, ValidationError):
        where, problem = first_error(err)
        return f"{where}: {problem}" if where else problem
    return str(err).splitlines()[0]
