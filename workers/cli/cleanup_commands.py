"""`durable-assistants cleanup ...`: the scheduled cleanup from the command line."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer

from workers.cli.app import app
from workers.cli.support import cli_settings, console

if TYPE_CHECKING:
    from workflows.contracts import CleanupPolicy

cleanup_app = typer.Typer(help="Delete old threads, vector stores and files on a schedule.")
app.add_typer(cleanup_app, name="cleanup")


def _cleanup_policy(
    thread_max_age: str | None,
    vector_store_max_age: str | None,
    file_max_age: str | None,
    dry_run: bool,
    max_deletions: int,
    workflow_query: str | None,
    include_foreign: bool,
) -> CleanupPolicy:
    from workers.cli.cleanup import seconds
    from workflows.contracts import CleanupPolicy

    return CleanupPolicy(
        thread_max_age_seconds=seconds("--thread-max-age", thread_max_age),
        vector_store_max_age_seconds=seconds("--vector-store-max-age", vector_store_max_age),
        file_max_age_seconds=seconds("--file-max-age", file_max_age),
        dry_run=dry_run,
        max_deletions=max_deletions,
        workflow_query=workflow_query,
        include_foreign=include_foreign,
    )


ThreadMaxAge = Annotated[str | None, typer.Option(help="e.g. 24h; unset: keep threads")]
VectorStoreMaxAge = Annotated[str | None, typer.Option(help="e.g. 30d; unset: keep stores")]
FileMaxAge = Annotated[str | None, typer.Option(help="e.g. 30d; unset: keep files")]
DryRun = Annotated[bool, typer.Option(help="report what would be deleted, delete nothing")]
MaxDeletions = Annotated[int, typer.Option(help="cap per execution")]
WorkflowQuery = Annotated[
    str | None, typer.Option(help="visibility filter for runs whose threads may go")
]
IncludeForeign = Annotated[
    bool,
    typer.Option(help="also delete what durable-assistants did not create (dangerous)"),
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
    include_foreign: IncludeForeign = False,
) -> None:
    """Create or update the cleanup schedule (overlapping executions are skipped)."""
    from workers.cli.cleanup import schedule_command, seconds

    policy = _cleanup_policy(
        thread_max_age,
        vector_store_max_age,
        file_max_age,
        dry_run,
        max_deletions,
        workflow_query,
        include_foreign,
    )
    interval = seconds("--every", every) or 3600.0
    console.print(asyncio.run(schedule_command(cli_settings(), policy, interval)))


@cleanup_app.command("run")
def cleanup_run(
    thread_max_age: ThreadMaxAge = None,
    vector_store_max_age: VectorStoreMaxAge = None,
    file_max_age: FileMaxAge = None,
    dry_run: DryRun = False,
    max_deletions: MaxDeletions = 1000,
    workflow_query: WorkflowQuery = None,
    include_foreign: IncludeForeign = False,
) -> None:
    """Run the cleanup once now and print its report as JSON."""
    from workers.cli.cleanup import run_once

    policy = _cleanup_policy(
        thread_max_age,
        vector_store_max_age,
        file_max_age,
        dry_run,
        max_deletions,
        workflow_query,
        include_foreign,
    )
    report = asyncio.run(run_once(cli_settings(), policy))
    print(report.model_dump_json(indent=2))
    for warning in report.warnings:
        console.print(f"WARNING: {warning}", style="bold red", markup=False)


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
    from workers.cli.cleanup import control

    console.print(asyncio.run(control(cli_settings(), action)))
