"""The commands that start a process: `worker`, `dev`, `emulator`, `serve`, `codec-server`; the
keys and tokens they need (`token`, `codec-key`, `codec-token`); and `schema`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from workers.cli.app import (
    BackendOption,
    app,
    run_async,
)
from workers.cli.support import cli_settings, console
from workers.settings import SettingsError


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
    run_async(run_worker(cli_settings(), task_queue))


@app.command()
def schema() -> None:
    """Print the JSON Schema of every workflow's input, output, queries, updates and signals."""
    from workers.cli.schema import contract_schemas

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
    from workers.cli.devstack import DevStackOptions, run_dev_stack
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
    run_async(run_dev_stack(settings, options, console))


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
    from workers.cli.devstack import require_emulator

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
    run_async(serve_gateway(settings, host, port))


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
    run_async(serve_codec(codec, settings, host, port))


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
