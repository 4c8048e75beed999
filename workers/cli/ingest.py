"""`durable-assistants ingest NAME PATH...`: index files into a vector store, with the progress
of each phase, then a line per file and a summary (or the `IngestResult` as JSON)."""

from __future__ import annotations

import asyncio
import glob
import uuid
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from temporalio.client import Client

from activities.vector_stores.files import check_file
from workers import client as runs
from workers.connection import connect
from workers.settings import Settings, SettingsError
from workers.wiring import openai_client
from workflows.contracts import (
    FileOutcome,
    IngestFile,
    IngestRequest,
    IngestResult,
    VectorStoreSpec,
)
from workflows.ingest.steps import CheckedFile
from workflows.ingest.workflow import VectorStoreIngest

POLL_SECONDS = 0.5
DONE_HERE = frozenset({"checking", "uploading"})
"""The workflow's phases this command did itself: for files it uploaded, they pass at once."""
GLOB_CHARACTERS = frozenset("*?[")
INDEXED, ALREADY_THERE, FAILED = "indexed", "already there", "failed"


async def ingest_command(
    settings: Settings, name: str, paths: list[Path], as_json: bool, console: Console
) -> int:
    """Check and upload the files from here (workers may run on other hosts), then index
    them: 0 when every file is in the store, 1 when some are not."""
    files = named_files(paths)
    client = await connect(settings)
    with PhaseBar(console) as bar:
        checks = _check(files, bar)
        readable = [path for path, check in zip(files, checks, strict=True) if check.error is None]
        bar.show("uploading", 0, len(readable))
        uploaded = await runs.upload_files(openai_client(settings), readable, bar.advance)
        indexed = await _index(client, settings, name, uploaded, bar) if uploaded else None
    result = result_of(files, checks, indexed)
    if as_json:
        print(result.model_dump_json(indent=2))
    else:
        print_report(result, name)
    return 1 if some_failed(result) else 0


def named_files(paths: list[Path]) -> list[Path]:
    """The files the arguments name. A pattern the shell passed on unexpanded (it matched
    nothing there, or was quoted) is expanded here; naming nothing is a usage error."""
    files: list[Path] = []
    for path in paths:
        if path.exists():
            files.append(path)
        elif GLOB_CHARACTERS & set(str(path)):
            matches = sorted(glob.glob(str(path), recursive=True))
            if not matches:
                raise SettingsError(f"no file matches {path}")
            files.extend(Path(match) for match in matches)
        else:
            raise SettingsError(f"no such file: {path}")
    return files


class PhaseBar:
    """One bar on stderr: the phase, its files done out of its total; gone once it ends."""

    def __init__(self, console: Console) -> None:
        columns = (TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn())
        self._progress = Progress(*columns, console=console, transient=True)
        self._task = self._progress.add_task("", visible=False)

    def __enter__(self) -> PhaseBar:
        self._progress.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._progress.stop()

    def show(self, phase: str, done: int, total: int) -> None:
        """Drawn at once: a phase over before the next refresh is still seen."""
        self._progress.update(
            self._task, description=phase, completed=done, total=total, visible=True, refresh=True
        )

    def advance(self) -> None:
        self._progress.advance(self._task)


def _check(files: list[Path], bar: PhaseBar) -> list[CheckedFile]:
    bar.show("checking", 0, len(files))
    checks = []
    for path in files:
        checks.append(check_file(IngestFile(path=str(path))))
        bar.advance()
    return checks


async def _index(
    client: Client, settings: Settings, name: str, files: list[IngestFile], bar: PhaseBar
) -> IngestResult:
    request = IngestRequest(vector_store=VectorStoreSpec(name=name), files=files)
    handle = await client.start_workflow(
        VectorStoreIngest.run,
        request,
        id=f"ingest-{uuid.uuid4()}",
        task_queue=settings.temporal_task_queue,
        static_summary=request.summary(),
    )
    result = asyncio.create_task(handle.result())
    while not result.done():
        progress = await handle.query(VectorStoreIngest.progress)
        if progress.phase not in DONE_HERE:
            bar.show(progress.phase, progress.phase_done, progress.phase_total)
        await asyncio.wait([result], timeout=POLL_SECONDS)
    return await result


def result_of(
    files: list[Path], checks: list[CheckedFile], indexed: IngestResult | None
) -> IngestResult:
    """The files refused here and those the workflow lists (all of them, unless its result
    had to leave some out), in the order named, each under the path it was named by; the
    counts of every file."""
    listed = _by_index(indexed)
    outcomes: list[FileOutcome] = []
    sent = 0
    for index, (path, check) in enumerate(zip(files, checks, strict=True)):
        if check.error is None:
            outcome, sent = listed.get(sent), sent + 1
        else:
            outcome = FileOutcome(source="", status="skipped", last_error=check.error)
        if outcome is not None:
            outcomes.append(outcome.model_copy(update={"source": str(path), "index": index}))
    by_status = _counted(indexed)
    by_status.update("skipped" for check in checks if check.error is not None)
    return IngestResult(
        vector_store_id=indexed.vector_store_id if indexed else "",
        files=outcomes,
        file_counts=indexed.file_counts if indexed else {},
        skipped=[outcome for outcome in outcomes if outcome.status == "skipped"],
        by_status=dict(by_status),
        files_omitted=indexed.files_omitted if indexed else 0,
        bytes_total=indexed.bytes_total if indexed else 0,
        bytes_uploaded=indexed.bytes_uploaded if indexed else 0,
        parts=indexed.parts if indexed else [],
    )


def _by_index(indexed: IngestResult | None) -> dict[int, FileOutcome]:
    """The workflow's outcomes by the index of the file it was sent."""
    outcomes = indexed.files if indexed else []
    return {outcome.index_or(position): outcome for position, outcome in enumerate(outcomes)}


def _counted(indexed: IngestResult | None) -> Counter[str]:
    """The workflow's files by outcome (a worker older than `by_status` lists them all)."""
    if indexed is None:
        return Counter()
    return Counter(indexed.by_status or [outcome.status for outcome in indexed.files])


def outcome_label(outcome: FileOutcome) -> str:
    if outcome.status != "completed":
        return FAILED
    return ALREADY_THERE if outcome.already_in_store else INDEXED


def print_report(result: IngestResult, name: str) -> None:
    """A line per file listed (why, when it failed), then how many of each and the store."""
    width = max((len(outcome.source) for outcome in result.files), default=0)
    for outcome in result.files:
        label = outcome_label(outcome)
        reason = _reason(outcome) if label == FAILED else ""
        print(f"{label:<13}  {outcome.source:<{width}}  {reason}".rstrip())
    where = f"vector store {name}: {result.vector_store_id}" if result.vector_store_id else ""
    print(f"{_summary(result)} ({where or 'nothing was uploaded'})")


def _summary(result: IngestResult) -> str:
    if result.files_omitted:
        completed = result.by_status.get("completed", 0)
        failed = sum(result.by_status.values()) - completed
        return (
            f"{completed} indexed or already there, {failed} failed; "
            f"{result.files_omitted} not listed above"
        )
    counts = Counter(outcome_label(outcome) for outcome in result.files)
    return ", ".join(f"{counts[label]} {label}" for label in (INDEXED, ALREADY_THERE, FAILED))


def some_failed(result: IngestResult) -> bool:
    return any(status != "completed" for status in result.by_status)


def _reason(outcome: FileOutcome) -> str:
    error = outcome.last_error
    return f"{error.code}: {error.message}" if error else f"indexing ended {outcome.status}"
