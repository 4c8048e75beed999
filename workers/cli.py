"""The `durable-assistants` command line."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import traceback
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any

import typer

from workers.cli_cleanup import cleanup_app
from workers.cli_errors import EXIT_FAILED, problem
from workers.cli_support import cli_settings, console
from workers.cli_tools import Backend, tools_app
from workers.settings import Settings, SettingsError, load_settings

app = typer.Typer(
    help="Durable OpenAI assistant runs on Temporal.",
    epilog="Exit codes: 0 done; 1 the run failed, was cancelled, expired or is incomplete;"
    " 2 bad usage or configuration (an option, a setting, an unknown workflow, Temporal"
    " unreachable).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def global_options(
    debug: Annotated[
        bool,
        typer.Option(
            "--debug", help="log at DEBUG and print the traceback of an error (as LOG_LEVEL=DEBUG)"
        ),
    ] = False,
) -> None:
    if debug:  # the settings of this process and of the processes it starts read it
        os.environ["LOG_LEVEL"] = "DEBUG"


def _run(coroutine: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coroutine)


BackendOption = Annotated[
    Backend | None,
    typer.Option(help="assistants or responses (default: the worker's OPENAI_BACKEND)"),
]

app.add_typer(tools_app, name="tools")
app.add_typer(cleanup_app, name="cleanup")


@app.command()
def worker(
    task_queue: Annotated[
        str | None,
        typer.Option(help="serve only the tools declared on this task queue"),
    ] = None,
) -> None:
    """Run a worker on the configured task queue until SIGINT or SIGTERM."""
    from workers.memory import tune_worker_heap
    from workers.worker import run_worker

    tune_worker_heap()
    _run(run_worker(cli_settings(), task_queue))


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
    from workers.run_cli import RunOptions, run_command

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
    from workers.run_cli import follow_run_command

    settings = cli_settings()
    code = asyncio.run(follow_run_command(settings, workflow_id, from_offset, json_output, console))
    raise typer.Exit(code)


FollowOption = Annotated[
    bool | None,
    typer.Option(
        "--follow/--no-follow", help="print the answer as it is written (default: on a terminal)"
    ),
]


def _following(follow: bool | None) -> bool:
    return sys.stdout.isatty() if follow is None else follow


@app.command()
def status(workflow_id: str) -> None:
    """Print a run's state (running) or its result (closed) as JSON."""
    from workers.run_cli import status_command

    _run(status_command(cli_settings(), workflow_id))


@app.command()
def cancel(
    workflow_id: str,
    reason: Annotated[str, typer.Option(help="recorded on the result")] = "cancelled from the CLI",
) -> None:
    """Cancel a run at the API; returns once it is terminal. Exits 1 if it had already ended."""
    from workers.run_cli import cancel_command

    _run(cancel_command(cli_settings(), workflow_id, reason))


CallArgument = Annotated[str, typer.Argument(help="the tool call's id (events, state, UI)")]
ReasonOption = Annotated[str | None, typer.Option(help="told to the model with a denial")]


@app.command()
def approve(workflow_id: str, call_id: CallArgument, reason: ReasonOption = None) -> None:
    """Approve a tool call that waits for approval in run WORKFLOW_ID: the tool runs."""
    from workers.run_cli import decide_command

    _run(decide_command(cli_settings(), workflow_id, call_id, True, reason))


@app.command()
def deny(workflow_id: str, call_id: CallArgument, reason: ReasonOption = None) -> None:
    """Deny a tool call that waits for approval: the model is told it was not run."""
    from workers.run_cli import decide_command

    _run(decide_command(cli_settings(), workflow_id, call_id, False, reason))


@app.command()
def send(
    key: Annotated[str, typer.Argument(help="the conversation: a user id, a ticket id, ...")],
    text: Annotated[str, typer.Argument(help="the message")],
    assistant_id: Annotated[str | None, typer.Option(help="assistant of a new thread")] = None,
    assistant_file: Annotated[Path | None, typer.Option(help="YAML assistant spec")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="print the RunResult")] = False,
    backend: BackendOption = None,
    follow: FollowOption = None,
) -> None:
    """Send one message to the conversation KEY (started if new) and print the answer.
    Exits 1 unless the answer completed."""
    from workers.thread_cli import send_command, thread_config

    config = thread_config(key, assistant_id, assistant_file, backend)
    settings = cli_settings()
    following = _following(follow)
    raise typer.Exit(
        asyncio.run(send_command(settings, config, text, json_output, following, console))
    )


@app.command()
def configure(
    key: Annotated[str, typer.Argument(help="the conversation")],
    assistant_id: Annotated[str | None, typer.Option(help="the assistant to answer")] = None,
    assistant_file: Annotated[Path | None, typer.Option(help="YAML assistant spec")] = None,
) -> None:
    """Switch the assistant that answers the open conversation KEY's next messages."""
    from workers.thread_cli import configure_command, thread_config

    config = thread_config(key, assistant_id, assistant_file, None)
    _run(configure_command(cli_settings(), config, console))


@app.command()
def chat(
    key: Annotated[str, typer.Argument(help="the conversation: a user id, a ticket id, ...")],
    assistant_id: Annotated[str | None, typer.Option(help="assistant of a new thread")] = None,
    assistant_file: Annotated[Path | None, typer.Option(help="YAML assistant spec")] = None,
    backend: BackendOption = None,
    follow: FollowOption = None,
) -> None:
    """Chat with the conversation KEY: each line you type is a message; Ctrl-D ends.
    Exits 1 unless the last answer completed."""
    from workers.thread_cli import chat_command, thread_config

    config = thread_config(key, assistant_id, assistant_file, backend)
    following = _following(follow)
    raise typer.Exit(asyncio.run(chat_command(cli_settings(), config, following, console)))


@app.command()
def ingest(
    name: Annotated[str, typer.Argument(help="vector store name (created once, then reused)")],
    paths: Annotated[list[Path], typer.Argument(help="files to index")],
    json_output: Annotated[bool, typer.Option("--json", help="print the IngestResult")] = False,
) -> None:
    """Upload and index files into a vector store, waiting until they are ready."""
    from workers.ingest_cli import ingest_command

    raise typer.Exit(asyncio.run(ingest_command(cli_settings(), name, paths, json_output, console)))


migrate_app = typer.Typer(help="Move to the responses backend.")
app.add_typer(migrate_app, name="migrate")


@migrate_app.command("assistant")
def migrate_assistant(
    assistant_id: Annotated[str, typer.Argument(help="an assistant of OPENAI_BASE_URL's API")],
) -> None:
    """Print an assistant as the YAML spec a run takes on the responses backend."""
    from workers.migrate_cli import migrate_assistant

    print(asyncio.run(migrate_assistant(cli_settings(), assistant_id)), end="")


@app.command()
def schema() -> None:
    """Print the JSON Schema of every workflow's input, output, queries, updates and signals."""
    from workers.schema import contract_schemas

    print(json.dumps(contract_schemas(), indent=2))


@app.command()
def dev(
    port: Annotated[int, typer.Option(help="Temporal gRPC port")] = 7233,
    ui_port: Annotated[int, typer.Option(help="Temporal Web UI port")] = 8233,
    emulator_port: Annotated[int, typer.Option(help="OpenAI emulator port")] = 8390,
    ip: Annotated[str, typer.Option(help="address every service binds to")] = "127.0.0.1",
    data_dir: Annotated[
        Path, typer.Option(help="where the Temporal database and the emulator's state live")
    ] = Path(".data"),
    demo: Annotated[bool, typer.Option(help="run the demo question once the stack is up")] = False,
    backend: BackendOption = None,
) -> None:
    """Start the Temporal dev server (with UI) and a worker; Ctrl-C stops all of them."""
    from workers.devstack import DevStackOptions, run_dev_stack
    from workers.memory import tune_worker_heap

    tune_worker_heap()  # its worker runs in this process
    options = DevStackOptions(
        ip=ip,
        port=port,
        ui_port=ui_port,
        emulator_port=emulator_port,
        data_dir=data_dir,
        demo=demo,
    )
    settings = cli_settings()
    if backend is not None:
        settings = settings.model_copy(update={"openai_backend": backend.value})
    _run(run_dev_stack(settings, options, console))


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
    from workers.devstack import require_emulator

    require_emulator()
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
    try:
        serve(host, port, config, state_file)
    except ValueError as err:  # an unreadable state file
        raise SettingsError(f"--state-file: {err}") from None


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8080,
) -> None:
    """Serve the HTTP API and the web chat (stateless: run as many as you like behind a load
    balancer). Needs API_TOKENS or API_TOKENS_FILE."""
    try:
        from workers.gateway.server import serve as serve_gateway
    except ImportError as err:
        raise SettingsError(
            f"the HTTP gateway is not installed ({err.name}): pip install "
            "'durable-assistants[gateway]'"
        ) from None
    from workers.ports import ensure_port_free

    settings = cli_settings()
    ensure_port_free(host, port, "--port")
    _run(serve_gateway(settings, host, port))


@app.command()
def token(
    tenant: Annotated[str, typer.Argument(help="whose token: letters, digits, - and _")],
) -> None:
    """Make a new API token for TENANT: prints the token (give it to the caller; it is not
    kept anywhere) and the API_TOKENS entry to configure (its sha256)."""
    import hashlib
    import re
    import secrets

    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", tenant):
        raise SettingsError("TENANT: 1 to 64 letters, digits, - and _")
    value = f"da_{secrets.token_urlsafe(32)}"
    print(value)
    console.print(f"configure: API_TOKENS={tenant}:{hashlib.sha256(value.encode()).hexdigest()}")


@app.command("codec-server")
def codec_server(
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8888,
    insecure_no_auth: Annotated[
        bool,
        typer.Option("--insecure-no-auth", help="serve anyone who can reach it, without a token"),
    ] = False,
) -> None:
    """Serve Temporal's remote codec protocol (POST /encode, POST /decode), so the Temporal
    UI and CLI show encrypted payloads decrypted. Needs PAYLOAD_ENCRYPTION_KEYS and
    CODEC_SERVER_TOKENS (or --insecure-no-auth)."""
    try:
        from workers.codec_server import codec_app, serve_codec
    except ImportError as err:
        raise SettingsError(
            f"the codec server is not installed ({err.name}): pip install "
            "'durable-assistants[gateway]'"
        ) from None
    from workers.ports import ensure_port_free

    settings = cli_settings()
    codec = codec_app(settings, insecure_no_auth)
    ensure_port_free(host, port, "--port")
    _run(serve_codec(codec, settings, host, port))


@app.command("codec-key")
def codec_key(
    key_id: Annotated[
        str | None, typer.Argument(help="the key's id (default: k and today's date)")
    ] = None,
) -> None:
    """Print a new PAYLOAD_ENCRYPTION_KEYS entry, KEY_ID:BASE64_KEY (a random AES-256 key)."""
    from datetime import UTC, datetime

    from workers.codec import new_key_entry

    key_id = key_id or datetime.now(UTC).strftime("k%Y%m%d")
    try:
        print(new_key_entry(key_id))
    except ValueError as err:
        raise SettingsError(f"KEY_ID: {err}") from None
    console.print(
        "append it to PAYLOAD_ENCRYPTION_KEYS (the last key encrypts); keep the older keys "
        "as long as histories written with them must be read"
    )


@app.command("codec-token")
def codec_token() -> None:
    """Make a new token for `codec-server`: prints the token (give it to whoever decodes;
    it is not kept anywhere) and the CODEC_SERVER_TOKENS entry to configure (its sha256)."""
    import hashlib
    import secrets

    value = f"dac_{secrets.token_urlsafe(32)}"
    print(value)
    console.print(f"configure: CODEC_SERVER_TOKENS={hashlib.sha256(value.encode()).hexdigest()}")


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
    except KeyboardInterrupt:
        return 130
    except Exception as err:
        return _report(err)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


def _report(err: Exception) -> int:
    """One line for an expected failure (and its traceback when debugging); a bug's traceback."""
    settings = _settings_or_none()
    found = problem(err, (settings and settings.temporal_namespace) or "default")
    if found is None or _debugging(settings):
        traceback.print_exception(err)
    if found is None:
        return EXIT_FAILED
    console.print(f"error: {found.message}", markup=False, highlight=False)
    return found.exit_code


def _settings_or_none() -> Settings | None:
    try:
        return load_settings()
    except SettingsError:
        return None


def _debugging(settings: Settings | None) -> bool:
    if settings is None:
        return os.environ.get("LOG_LEVEL", "").upper() == "DEBUG"
    return settings.log_level == "DEBUG"
