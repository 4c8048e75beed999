"""The `durable-assistants` command line."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import traceback
from collections.abc import Coroutine
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from workers.logging import configure_logging
from workers.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from activities.tools import ToolRegistry
    from workflows.contracts import CleanupPolicy

app = typer.Typer(
    help="Durable OpenAI assistant runs on Temporal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(stderr=True)

EXIT_USAGE = 2


class Backend(StrEnum):
    assistants = "assistants"
    responses = "responses"


def _settings() -> Settings:
    settings = load_settings()
    secrets = [
        secret.get_secret_value()
        for secret in (settings.openai_api_key, settings.temporal_api_key)
        if secret is not None
    ]
    configure_logging(settings.log_format, settings.log_level, secrets)
    return settings


def _run(coroutine: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coroutine)


tools_app = typer.Typer(help="The function tools registered from TOOLS_MODULES.")
app.add_typer(tools_app, name="tools")
cleanup_app = typer.Typer(help="Delete old threads, vector stores and files on a schedule.")
app.add_typer(cleanup_app, name="cleanup")


@app.command()
def worker(
    task_queue: Annotated[
        str | None,
        typer.Option(help="serve only the tools declared on this task queue"),
    ] = None,
) -> None:
    """Run a worker on the configured task queue until SIGINT or SIGTERM."""
    from workers.worker import run_worker

    _run(run_worker(_settings(), task_queue))


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
    deadline: Annotated[float | None, typer.Option(help="seconds until the run expires")] = None,
    workflow_id: Annotated[str | None, typer.Option(help="default: run-<uuid>")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="print the RunResult")] = False,
    no_wait: Annotated[bool, typer.Option(help="print the workflow id and return")] = False,
) -> None:
    """Run an assistant durably and print its answer."""
    from workers.run_cli import RunOptions, run_command

    if (assistant_id is None) == (assistant_file is None):
        raise SettingsError("give exactly one of --assistant-id and --assistant-file")
    options = RunOptions(
        messages=message, assistant_id=assistant_id, assistant_file=assistant_file,
        thread_id=thread_id, files=file or [], deadline=deadline, workflow_id=workflow_id,
        as_json=json_output, wait=not no_wait,
    )  # fmt: skip
    code = asyncio.run(run_command(_settings(), options, console))
    raise typer.Exit(code)


@app.command()
def status(workflow_id: str) -> None:
    """Print a run's state (running) or its result (closed) as JSON."""
    from workers.run_cli import status_command

    _run(status_command(_settings(), workflow_id))


@app.command()
def cancel(
    workflow_id: str,
    reason: Annotated[str, typer.Option(help="recorded on the result")] = "cancelled from the CLI",
) -> None:
    """Cancel a run at the API; returns once it is terminal."""
    from workers.run_cli import cancel_command

    _run(cancel_command(_settings(), workflow_id, reason))


@app.command()
def send(
    key: Annotated[str, typer.Argument(help="the conversation: a user id, a ticket id, ...")],
    text: Annotated[str, typer.Argument(help="the message")],
    assistant_id: Annotated[str | None, typer.Option(help="assistant of a new thread")] = None,
    assistant_file: Annotated[Path | None, typer.Option(help="YAML assistant spec")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="print the RunResult")] = False,
) -> None:
    """Send one message to the conversation KEY (started if new) and print the answer."""
    from workers.thread_cli import send_command, thread_config

    config = thread_config(key, assistant_id, assistant_file)
    _run(send_command(_settings(), config, text, json_output, console))


@app.command()
def chat(
    key: Annotated[str, typer.Argument(help="the conversation: a user id, a ticket id, ...")],
    assistant_id: Annotated[str | None, typer.Option(help="assistant of a new thread")] = None,
    assistant_file: Annotated[Path | None, typer.Option(help="YAML assistant spec")] = None,
) -> None:
    """Chat with the conversation KEY: each line you type is a message; Ctrl-D ends."""
    from workers.thread_cli import chat_command, thread_config

    config = thread_config(key, assistant_id, assistant_file)
    _run(chat_command(_settings(), config, console))


@app.command()
def ingest(
    name: Annotated[str, typer.Argument(help="vector store name (created once, then reused)")],
    paths: Annotated[list[Path], typer.Argument(help="files to index")],
    json_output: Annotated[bool, typer.Option("--json", help="print the IngestResult")] = False,
) -> None:
    """Upload and index files into a vector store, waiting until they are ready."""
    from workers.ingest_cli import ingest_command

    raise typer.Exit(asyncio.run(ingest_command(_settings(), name, paths, json_output, console)))


def _cleanup_policy(
    thread_max_age: str | None, vector_store_max_age: str | None, file_max_age: str | None,
    dry_run: bool, max_deletions: int, workflow_query: str | None,
) -> CleanupPolicy:  # fmt: skip
    from workers.cleanup_cli import seconds
    from workflows.contracts import CleanupPolicy

    return CleanupPolicy(
        thread_max_age_seconds=seconds("--thread-max-age", thread_max_age),
        vector_store_max_age_seconds=seconds("--vector-store-max-age", vector_store_max_age),
        file_max_age_seconds=seconds("--file-max-age", file_max_age),
        dry_run=dry_run, max_deletions=max_deletions, workflow_query=workflow_query,
    )  # fmt: skip


ThreadMaxAge = Annotated[str | None, typer.Option(help="e.g. 24h; unset: keep threads")]
VectorStoreMaxAge = Annotated[str | None, typer.Option(help="e.g. 30d; unset: keep stores")]
FileMaxAge = Annotated[str | None, typer.Option(help="e.g. 30d; unset: keep files")]
DryRun = Annotated[bool, typer.Option(help="report what would be deleted, delete nothing")]
MaxDeletions = Annotated[int, typer.Option(help="cap per execution")]
WorkflowQuery = Annotated[
    str | None, typer.Option(help="visibility filter for runs whose threads may go")
]


@cleanup_app.command("schedule")
def cleanup_schedule(
    every: Annotated[str, typer.Option(help="interval, e.g. 1h")] = "1h",
    thread_max_age: ThreadMaxAge = None,
    vector_store_max_age: VectorStoreMaxAge = None,
    file_max_age: FileMaxAge = None,
    dry_run: DryRun = False,
    max_deletions: MaxDeletions = 1000,
    workflow_query: WorkflowQuery = None,
) -> None:
    """Create or update the cleanup schedule (overlapping executions are skipped)."""
    from workers.cleanup_cli import schedule_command, seconds

    policy = _cleanup_policy(thread_max_age, vector_store_max_age, file_max_age, dry_run,
                             max_deletions, workflow_query)  # fmt: skip
    interval = seconds("--every", every) or 3600.0
    console.print(asyncio.run(schedule_command(_settings(), policy, interval)))


@cleanup_app.command("run")
def cleanup_run(
    thread_max_age: ThreadMaxAge = None,
    vector_store_max_age: VectorStoreMaxAge = None,
    file_max_age: FileMaxAge = None,
    dry_run: DryRun = False,
    max_deletions: MaxDeletions = 1000,
    workflow_query: WorkflowQuery = None,
) -> None:
    """Run the cleanup once now and print its report as JSON."""
    from workers.cleanup_cli import run_once

    policy = _cleanup_policy(thread_max_age, vector_store_max_age, file_max_age, dry_run,
                             max_deletions, workflow_query)  # fmt: skip
    print(asyncio.run(run_once(_settings(), policy)).model_dump_json(indent=2))


@cleanup_app.command("pause")
def cleanup_pause() -> None:
    """Pause the cleanup schedule."""
    _cleanup_control("pause")


@cleanup_app.command("unpause")
def cleanup_unpause() -> None:
    """Unpause the cleanup schedule."""
    _cleanup_control("unpause")


@cleanup_app.command("delete")
def cleanup_delete() -> None:
    """Delete the cleanup schedule (running executions finish)."""
    _cleanup_control("delete")


def _cleanup_control(action: str) -> None:
    from workers.cleanup_cli import control

    console.print(asyncio.run(control(_settings(), action)))


@app.command()
def schema() -> None:
    """Print the JSON Schema of every workflow's input, output, queries, updates and signals."""
    from workers.schema import contract_schemas

    print(json.dumps(contract_schemas(), indent=2))


def _tool_registry() -> ToolRegistry:
    from workers.worker import project_tools

    return project_tools(_settings())


@tools_app.command("list")
def tools_list() -> None:
    """Print the registered tools: activity type, task queue, timeout, retries."""
    table = Table("tool", "activity", "task queue", "timeout", "attempts", "kind", "description")
    for registered in _tool_registry():
        spec = registered.spec
        table.add_row(
            spec.name,
            spec.activity_type,
            spec.task_queue or "(worker's)",
            f"{spec.timeout_seconds:g}s",
            str(spec.retry.max_attempts or "unlimited"),
            "external" if spec.external else ("strict" if spec.strict else "function"),
            spec.description.splitlines()[0] if spec.description else "",
        )
    Console().print(table)


@tools_app.command("schema")
def tools_schema(
    backend: Annotated[
        Backend, typer.Option(help="tool format: assistants or responses")
    ] = Backend.assistants,
) -> None:
    """Print the `tools` array to put on an assistant (or a response) as JSON."""
    print(json.dumps(_tool_registry().definitions(backend.value), indent=2))


@app.command()
def dev(
    port: Annotated[int, typer.Option(help="Temporal gRPC port")] = 7233,
    ui_port: Annotated[int, typer.Option(help="Temporal Web UI port")] = 8233,
    emulator_port: Annotated[int, typer.Option(help="OpenAI emulator port")] = 8390,
    ip: Annotated[str, typer.Option(help="address every service binds to")] = "127.0.0.1",
    data_dir: Annotated[Path, typer.Option(help="where the Temporal database lives")] = Path(
        ".data"
    ),
    demo: Annotated[bool, typer.Option(help="run the demo question once the stack is up")] = False,
) -> None:
    """Start the Temporal dev server (with UI) and a worker; Ctrl-C stops all of them."""
    from workers.devstack import DevStackOptions, run_dev_stack

    options = DevStackOptions(
        ip=ip, port=port, ui_port=ui_port, emulator_port=emulator_port, data_dir=data_dir,
        demo=demo,
    )  # fmt: skip
    _run(run_dev_stack(_settings(), options, console))


@app.command()
def emulator(
    port: Annotated[int, typer.Option(help="port to listen on")] = 8390,
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    state_file: Annotated[
        Path | None, typer.Option(help="keep the emulator's state in this file across restarts")
    ] = None,
    api_key: Annotated[
        str | None, typer.Option(help="accept only this bearer token (default: any)")
    ] = None,
    queued: Annotated[float, typer.Option(help="seconds a run or response stays queued")] = 0.05,
    in_progress: Annotated[float, typer.Option(help="seconds the model 'thinks'")] = 0.2,
    indexing: Annotated[float, typer.Option(help="seconds to index a vector store file")] = 0.1,
    run_expiry: Annotated[float, typer.Option(help="seconds until a run expires")] = 600.0,
    poll_after_ms: Annotated[
        int | None, typer.Option(help="send openai-poll-after-ms on run retrievals")
    ] = None,
    fault: Annotated[
        list[str] | None,
        typer.Option(help="a fault rule, repeatable: 'status=429 rate=0.3 retry_after=1'"),
    ] = None,
) -> None:
    """Serve the local OpenAI-compatible emulator (the model behind tests and the demo)."""
    from emulator.config import EmulatorConfig, Timings
    from emulator.faults import parse_rule
    from emulator.server import serve
    from workers.ports import ensure_port_free

    try:
        rules = [parse_rule(text) for text in fault or []]
    except ValueError as err:
        raise SettingsError(f"--fault: {err}") from None
    config = EmulatorConfig(
        api_key=api_key,
        timings=Timings(
            queued=queued, in_progress=in_progress, indexing=indexing, run_expiry=run_expiry
        ),
        poll_after_ms=poll_after_ms,
        faults=rules,
    )
    ensure_port_free(host, port, "--port")
    console.print(f"OpenAI emulator on http://{host}:{port}/v1 (admin: /_emulator/counters)")
    serve(host, port, config, state_file)


def main() -> None:
    """Entry point. Always leaves through `os._exit`: temporalio's Rust core can abort the
    interpreter during normal finalisation (sdk-python #300), turning success into exit 134."""
    os._exit(_exit_code())


def _exit_code() -> int:
    try:
        app()
        return 0
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
    except SettingsError as err:
        console.print(f"error: {err}", markup=False, highlight=False, soft_wrap=True)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception:
        traceback.print_exc()
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
