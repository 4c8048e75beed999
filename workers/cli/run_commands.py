"""The commands of a run: `run`, `follow`, `status`, `cancel`, `approve`, `deny`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from workers.cli.app import (
    BackendOption,
    CallArgument,
    ReasonOption,
    app,
    run_async,
)
from workers.cli.support import cli_settings, console
from workers.settings import SettingsError


@app.command("run")
def run_(
    message: Annotated[list[str], typer.Option("--message", "-m", help="a user message")],
    assistant_id: Annotated[str | None, typer.Option(help="an existing assistant")] = None,
    assistant_file: Annotated[
        Path | None, typer.Option(help="YAML assistant spec, ensured by name")
    ] = None,
    thread_id: Annotated[str | None, typer.Option(help="continue this thread")] = None,
    file: Annotated[
        list[Path] | None, typer.Option(help="upload and attach for file_search")
    ] = None,
    code_file: Annotated[
        list[Path] | None,
        typer.Option(help="upload and attach for code_interpreter (a CSV to analyse or chart)"),
    ] = None,
    download: Annotated[
        Path | None,
        typer.Option(help="download the files the model generates into this directory"),
    ] = None,
    deadline: Annotated[float | None, typer.Option(help="seconds until the run expires")] = None,
    workflow_id: Annotated[str | None, typer.Option(help="default: run-<uuid>")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="print the RunResult")] = False,
    no_wait: Annotated[bool, typer.Option(help="print the workflow id and return")] = False,
    backend: BackendOption = None,
    follow: Annotated[
        bool, typer.Option(help="print the answer as it is written (--json: events as JSON lines)")
    ] = False,
) -> None:
    """Run an assistant durably and print its answer."""
    from workers.cli.runs import RunOptions, run_command

    if (assistant_id is None) == (assistant_file is None):
        raise SettingsError("give exactly one of --assistant-id and --assistant-file")
    options = RunOptions(
        messages=message,
        assistant_id=assistant_id,
        assistant_file=assistant_file,
        thread_id=thread_id,
        files=file or [],
        code_files=code_file or [],
        download_to=download,
        deadline=deadline,
        workflow_id=workflow_id,
        as_json=json_output,
        wait=not no_wait,
        backend=backend.value if backend else None,
        follow=follow,
    )
    code = asyncio.run(run_command(cli_settings(), options, console))
    raise typer.Exit(code)


@app.command("follow")
def follow_(
    workflow_id: Annotated[str, typer.Argument(help="a run, or thread-KEY: a conversation")],
    from_offset: Annotated[int, typer.Option("--from", min=0, help="the first event's offset")] = 0,
    json_output: Annotated[bool, typer.Option("--json", help="events as JSON lines")] = False,
) -> None:
    """Print a run's answer as it is written, its tool calls as they start and finish, and
    its end (also of a run that has ended). thread-KEY follows the conversation's current and
    next runs until it closes. Exits 1 unless the run completed."""
    from workers.cli.runs import follow_run_command

    settings = cli_settings()
    code = asyncio.run(follow_run_command(settings, workflow_id, from_offset, json_output, console))
    raise typer.Exit(code)


@app.command()
def status(workflow_id: str) -> None:
    """Print a run's state (running) or its result (closed) as JSON."""
    from workers.cli.runs import status_command

    run_async(status_command(cli_settings(), workflow_id))


@app.command()
def cancel(
    workflow_id: str,
    reason: Annotated[str, typer.Option(help="recorded on the result")] = "cancelled from the CLI",
) -> None:
    """Cancel a run at the API; returns once it is terminal. Exits 1 if it had already ended."""
    from workers.cli.runs import cancel_command

    run_async(cancel_command(cli_settings(), workflow_id, reason))


@app.command()
def approve(workflow_id: str, call_id: CallArgument, reason: ReasonOption = None) -> None:
    """Approve a tool call that waits for approval in run WORKFLOW_ID: the tool runs."""
    from workers.cli.runs import decide_command

    run_async(decide_command(cli_settings(), workflow_id, call_id, True, reason))


@app.command()
def deny(workflow_id: str, call_id: CallArgument, reason: ReasonOption = None) -> None:
    """Deny a tool call that waits for approval: the model is told it was not run."""
    from workers.cli.runs import decide_command

    run_async(decide_command(cli_settings(), workflow_id, call_id, False, reason))
