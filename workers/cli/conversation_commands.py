"""The commands of a conversation: `send`, `configure`, `chat`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from workers.cli.app import (
    BackendOption,
    FollowOption,
    app,
    following,
    run_async,
)
from workers.cli.support import cli_settings, console


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
    from workers.cli.conversations import send_command, thread_config

    config = thread_config(key, assistant_id, assistant_file, backend)
    settings = cli_settings()
    live = following(follow)
    raise typer.Exit(asyncio.run(send_command(settings, config, text, json_output, live, console)))


@app.command()
def configure(
    key: Annotated[str, typer.Argument(help="the conversation")],
    assistant_id: Annotated[str | None, typer.Option(help="the assistant to answer")] = None,
    assistant_file: Annotated[Path | None, typer.Option(help="YAML assistant spec")] = None,
) -> None:
    """Switch the assistant that answers the open conversation KEY's next messages."""
    from workers.cli.conversations import configure_command, thread_config

    config = thread_config(key, assistant_id, assistant_file, None)
    run_async(configure_command(cli_settings(), config, console))


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
    from workers.cli.conversations import chat_command, thread_config

    config = thread_config(key, assistant_id, assistant_file, backend)
    live = following(follow)
    raise typer.Exit(asyncio.run(chat_command(cli_settings(), config, live, console)))
