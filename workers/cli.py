"""The `durable-assistants` command line."""

from __future__ import annotations

import asyncio
import os
import sys
import traceback
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from workers.logging import configure_logging
from workers.settings import Settings, SettingsError, load_settings

app = typer.Typer(
    help="Durable OpenAI assistant runs on Temporal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(stderr=True)

EXIT_USAGE = 2


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


@app.command()
def worker() -> None:
    """Run a worker on the configured task queue until SIGINT or SIGTERM."""
    from workers.worker import run_worker

    _run(run_worker(_settings()))


@app.command()
def dev(
    port: Annotated[int, typer.Option(help="Temporal gRPC port")] = 7233,
    ui_port: Annotated[int, typer.Option(help="Temporal Web UI port")] = 8233,
    emulator_port: Annotated[int, typer.Option(help="OpenAI emulator port")] = 8390,
    ip: Annotated[str, typer.Option(help="address every service binds to")] = "127.0.0.1",
    data_dir: Annotated[Path, typer.Option(help="where the Temporal database lives")] = Path(
        ".data"
    ),
) -> None:
    """Start the Temporal dev server (with UI) and a worker; Ctrl-C stops all of them."""
    from workers.devstack import DevStackOptions, run_dev_stack

    options = DevStackOptions(
        ip=ip, port=port, ui_port=ui_port, emulator_port=emulator_port, data_dir=data_dir
    )
    _run(run_dev_stack(_settings(), options, console))


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
