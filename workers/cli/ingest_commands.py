"""`ingest`: upload and index files into a vector store."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from workers.cli.app import (
    app,
)
from workers.cli.support import cli_settings, console


@app.command()
def ingest(
    name: Annotated[str, typer.Argument(help="vector store name (created once, then reused)")],
    paths: Annotated[list[Path], typer.Argument(help="files to index")],
    json_output: Annotated[bool, typer.Option("--json", help="print the IngestResult")] = False,
) -> None:
    """Upload and index files into a vector store, waiting until they are ready."""
    from workers.cli.ingest import ingest_command

    raise typer.Exit(asyncio.run(ingest_command(cli_settings(), name, paths, json_output, console)))


migrate_app = typer.Typer(help="Move to the responses backend.")
app.add_typer(migrate_app, name="migrate")


@migrate_app.command("assistant")
def migrate_assistant(
    assistant_id: Annotated[str, typer.Argument(help="an assistant of OPENAI_BASE_URL's API")],
) -> None:
    """Print an assistant as the YAML spec a run takes on the responses backend."""
    from workers.cli.migrate import migrate_assistant

    print(asyncio.run(migrate_assistant(cli_settings(), assistant_id)), end="")
