"""The `durable-assistants` command line: the Typer app, the options its command groups share,
and the process's exit (one line for an expected failure, exit codes 0, 1, 2). The commands
live in one module per group (`run_commands`, `conversation_commands`, `ingest_commands`,
`cleanup_commands`, `tools`, `server_commands`), registered by the package's `__init__`."""

from __future__ import annotations

import asyncio
import os
import sys
import traceback
from collections.abc import Coroutine
from enum import StrEnum
from typing import Annotated, Any

import typer

from workers.cli.errors import EXIT_FAILED, problem
from workers.cli.support import console
from workers.settings import Settings, SettingsError, load_settings


class Backend(StrEnum):
    assistants = "assistants"
    responses = "responses"


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


def run_async(coroutine: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coroutine)


BackendOption = Annotated[
    Backend | None,
    typer.Option(help="assistants or responses (default: the worker's OPENAI_BACKEND)"),
]


FollowOption = Annotated[
    bool | None,
    typer.Option(
        "--follow/--no-follow", help="print the answer as it is written (default: on a terminal)"
    ),
]


def following(follow: bool | None) -> bool:
    return sys.stdout.isatty() if follow is None else follow


CallArgument = Annotated[str, typer.Argument(help="the tool call's id (events, state, UI)")]
ReasonOption = Annotated[str | None, typer.Option(help="told to the model with a denial")]


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
