"""`durable-assistants run | status | cancel`: AssistantRun from the command line."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from rich.console import Console
from temporalio.client import Client, WorkflowFailureError
from temporalio.service import RPCError, RPCStatusCode

from workers import client as runs
from workers.cli.errors import CommandFailed, result_exit_code, yaml_problem
from workers.cli.progress import ProgressPrinter, follow_command, print_progress
from workers.cli.status import workflow_status
from workers.cli.unserved import warning_if_unserved
from workers.connection import connect
from workers.failures import failure_message
from workers.settings import Settings, SettingsError
from workers.wiring import openai_client
from workflows.common import first_error
from workflows.contracts import ApprovalDecision, AssistantSpec, RunRequest, RunResult
from workflows.run.workflow import AssistantRun


@dataclass(frozen=True)
class RunOptions:
    messages: list[str]
    assistant_id: str | None = None
    assistant_file: Path | None = None
    thread_id: str | None = None
    files: list[Path] = field(default_factory=list)
    code_files: list[Path] = field(default_factory=list)
    download_to: Path | None = None
    deadline: float | None = None
    workflow_id: str | None = None
    as_json: bool = False
    wait: bool = True
    backend: str | None = None
    follow: bool = False


def load_assistant(path: Path) -> AssistantSpec:
    try:
        return AssistantSpec.model_validate(yaml.safe_load(path.read_text()))
    except OSError as err:
        raise SettingsError(f"--assistant-file: cannot read {path}: {err.strerror}") from None
    except yaml.MarkedYAMLError as err:
        raise SettingsError(f"--assistant-file: {yaml_problem(path, err)}") from None
    except (yaml.YAMLError, ValidationError) as err:
        raise SettingsError(f"--assistant-file: {path}: {_first_line(err)}") from None


def build_request(
    options: RunOptions, file_ids: list[str], code_file_ids: list[str] | None = None
) -> RunRequest:
    attachments: list[dict[str, Any]] = [{"file_id": file_id} for file_id in file_ids]
    attachments += [{"file_id": i, "tools": ["code_interpreter"]} for i in code_file_ids or []]
    messages = [
        {"content": text, "attachments": attachments if i == 0 else []}
        for i, text in enumerate(options.messages)
    ]
    fields: dict[str, Any] = {
        "messages": messages,
        "thread_id": options.thread_id,
        "deadline_seconds": options.deadline,
        "backend": options.backend,
        "download_to": str(options.download_to.resolve()) if options.download_to else None,
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
    for flag, paths in (("--file", options.files), ("--code-file", options.code_files)):
        if missing := [path for path in paths if not path.is_file()]:
            raise SettingsError(f"{flag}: {missing[0]} is not a readable file")
    if options.download_to is not None and not options.download_to.is_dir():
        raise SettingsError(f"--download: {options.download_to} is not a directory")
    build_request(options, [])  # bad arguments fail before anything is uploaded or started
    client = await connect(settings)
    uploaded = await _upload(settings, [*options.files, *options.code_files])
    split = len(options.files)
    request = build_request(options, uploaded[:split], uploaded[split:])
    task_queue = settings.temporal_task_queue
    handle = await runs.start_run(client, task_queue, request, options.workflow_id)
    link = settings.workflow_ui_url(handle.id)
    if not options.wait:
        print(json.dumps({"workflow_id": handle.id, "ui": link}) if options.as_json else handle.id)
        return 0
    console.print(f"{handle.id}  {link}", style="dim", markup=False, soft_wrap=True)
    if options.follow:
        async with warning_if_unserved(client, task_queue, console):
            printer = ProgressPrinter(console, as_json=options.as_json)
            return await print_progress(client, handle.id, 0, printer)
    result = await _result(client, handle, task_queue, console)
    print_result(result, options.as_json, console)
    return result_exit_code(result)


async def follow_run_command(
    settings: Settings, workflow_id: str, from_offset: int, as_json: bool, console: Console
) -> int:
    client = await connect(settings)
    printer = ProgressPrinter(console, as_json=as_json)
    async with warning_if_unserved(client, settings.temporal_task_queue, console):
        return await follow_command(client, workflow_id, from_offset, printer)


async def status_command(settings: Settings, workflow_id: str) -> None:
    client = await connect(settings)
    print(json.dumps(await workflow_status(client, workflow_id), indent=2))


async def cancel_command(settings: Settings, workflow_id: str, reason: str) -> None:
    """Cancel the run; `CommandFailed` naming its status if it had already ended."""
    client = await connect(settings)
    try:
        state = await runs.cancel_run(client, workflow_id, reason)
    except RPCError as err:
        raise await _ended_already(client, workflow_id, err, "nothing to cancel") from err
    print(state.model_dump_json(indent=2))


async def _ended_already(client: Client, workflow_id: str, err: RPCError, so: str) -> Exception:
    """An update found no open workflow: it ended (`CommandFailed`), or never existed
    (describe raises that); any other error is itself."""
    if err.status != RPCStatusCode.NOT_FOUND:
        return err
    status = (await client.get_workflow_handle(workflow_id).describe()).status
    ended = status.name.lower() if status else "unknown"
    return CommandFailed(f"run {workflow_id} has already ended ({ended}): {so}")


async def decide_command(
    settings: Settings, workflow_id: str, call_id: str, approved: bool, reason: str | None
) -> None:
    """Approve or deny a tool call waiting in the run; refused (exit 1) if it does not wait."""
    client = await connect(settings)
    decision = ApprovalDecision(call_id=call_id, approved=approved, reason=reason)
    handle = client.get_workflow_handle_for(AssistantRun.run, workflow_id)
    try:
        state = await handle.execute_update(AssistantRun.decide_approval, decision)
    except RPCError as err:
        raise await _ended_already(client, workflow_id, err, "nothing waits") from err
    how = "approved" if approved else "denied"
    waiting = ", ".join(call.id for call in state.pending_approvals) or "none"
    print(f"{how} {call_id} of {workflow_id}; still waiting for approval: {waiting}")


def print_result(result: RunResult, as_json: bool, console: Console) -> None:
    if as_json:
        print(result.model_dump_json(indent=2))
        return
    for call in result.tool_calls:
        line = f"tool {call.name}({call.arguments}) -> {call.output}"
        console.print(line, style="dim", markup=False, soft_wrap=True)
    for code in result.code_interpreter_calls:
        ran = f"code interpreter ran:\n{code.code}\nlogs:\n{code.logs}"
        console.print(ran, style="dim", markup=False, soft_wrap=True)
    for file in result.files:
        failed = f"not downloaded: {file.download_error}" if file.download_error else ""
        where = file.path or failed
        size = f"{file.bytes} bytes" if file.bytes is not None else "size unknown"
        line = f"file {file.name} ({file.mime_type or 'type unknown'}, {size}) {file.file_id}"
        console.print(f"{line} -> {where}" if where else line, markup=False, soft_wrap=True)
    if result.status != "completed":
        error = f": {result.last_error.message}" if result.last_error else ""
        console.print(f"{result.status}{error}", style="bold", markup=False, soft_wrap=True)
    print(result.output_text, flush=True)


async def _upload(settings: Settings, files: list[Path]) -> list[str]:
    """The ids of the `--file`s, uploaded from here: only they need the OpenAI settings."""
    if not files:
        return []
    uploaded = await runs.upload_files(openai_client(settings), files)
    return [file.file_id or "" for file in uploaded]


async def _result(
    client: Client, handle: runs.RunHandle, task_queue: str, console: Console
) -> RunResult:
    """The run's result (whatever its status); a failed workflow is one line saying why."""
    async with warning_if_unserved(client, task_queue, console):
        try:
            return await handle.result()
        except WorkflowFailureError as err:
            raise CommandFailed(f"run {handle.id}: failed: {failure_message(err)}") from err


def _first_line(err: Exception) -> str:
    if isinstance(err, ValidationError):
        where, problem = first_error(err)
        return f"{where}: {problem}" if where else problem
    return str(err).splitlines()[0]
