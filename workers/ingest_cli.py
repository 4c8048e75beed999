"""`durable-assistants ingest NAME PATH...`: index files into a vector store, with progress."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn
from temporalio.client import Client

from activities.vector_stores.files import check_file
from workers import client as runs
from workers.connection import connect
from workers.settings import Settings
from workers.worker import openai_client
from workflows.contracts import (
    FileOutcome,
    IngestFile,
    IngestRequest,
    IngestResult,
    VectorStoreSpec,
)
from workflows.ingest.workflow import VectorStoreIngest

POLL_SECONDS = 0.5


async def ingest_command(
    settings: Settings, name: str, paths: list[Path], as_json: bool, console: Console
) -> int:
    """Check and upload the files from here (workers may run on other hosts), then index
    them; files refused here are reported with the others."""
    client = await connect(settings)
    checks = [(path, check_file(IngestFile(path=str(path)))) for path in paths]
    refused = [
        FileOutcome(source=str(path), status="skipped", last_error=check.error)
        for path, check in checks
        if check.error is not None
    ]
    readable = [path for path, check in checks if check.error is None]
    files = await runs.upload_files(openai_client(settings), readable) if readable else []
    if not files:
        result = IngestResult(vector_store_id="", files=refused, file_counts={}, skipped=refused)
    else:
        request = IngestRequest(vector_store=VectorStoreSpec(name=name), files=files)
        handle = await client.start_workflow(
            VectorStoreIngest.run,
            request,
            id=f"ingest-{uuid.uuid4()}",
            task_queue=settings.temporal_task_queue,
        )
        indexed = await _with_progress(client, handle.id, console)
        result = indexed.model_copy(
            update={"files": [*indexed.files, *refused], "skipped": [*indexed.skipped, *refused]}
        )
    if as_json:
        print(result.model_dump_json(indent=2))
    else:
        _print_report(result, console)
    return 0 if all(f.status == "completed" for f in result.files) else 1


async def _with_progress(client: Client, workflow_id: str, console: Console) -> IngestResult:
    handle = client.get_workflow_handle_for(VectorStoreIngest.run, workflow_id)
    result = asyncio.create_task(handle.result())
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[counts]}"))
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("checking", total=None, counts="")
        while not result.done():
            progress = await handle.query(VectorStoreIngest.progress)
            done = progress.by_status.get("completed", 0) + progress.by_status.get("failed", 0)
            counts = ", ".join(f"{k} {v}" for k, v in sorted(progress.by_status.items()))
            bar.update(
                task,
                description=progress.phase,
                total=progress.files,
                completed=done,
                counts=counts,
            )
            await asyncio.wait([result], timeout=POLL_SECONDS)
    return await result


def _print_report(result: IngestResult, console: Console) -> None:
    console.print(f"vector store {result.vector_store_id}: {result.file_counts}", markup=False)
    for outcome in result.files:
        if outcome.status != "completed":
            error = (
                f"{outcome.last_error.code}: {outcome.last_error.message}"
                if outcome.last_error
                else ""
            )
            console.print(f"  {outcome.status:9} {outcome.source}  {error}", markup=False)
