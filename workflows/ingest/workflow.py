"""VectorStoreIngest: check, upload, index and wait, so a vector store is ready before runs
use it. Files that fail indexing for a transient reason are added again, up to a limit.

    checking -> uploading -> indexing (batches, waits) -> retrying failed files -> done

An ingest of more than `files_per_child` files ensures the store, then hands the files to
child `VectorStoreIngest`s of at most that many, one after another, and gathers their
outcomes: each execution's history (events, activity payloads) and the worker's memory for
its activities stay bounded by the part, not the whole ingest.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import TypeVar, cast

from pydantic import ValidationError
from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.common import Step, call_api
    from workflows.ingest.contracts import (
        FileOutcome,
        IngestFile,
        IngestProgress,
        IngestRequest,
        IngestResult,
        VectorStoreSpec,
    )
    from workflows.ingest.listing import Listing
    from workflows.ingest.parts import Parts
    from workflows.ingest.steps import (
        ADD_NEW_FILES,
        CHECK_FILES,
        ENSURE_VECTOR_STORE,
        FILE_COUNTS,
        REMOVE_FILES,
        UPLOAD_FILES,
        WAIT_FOR_FILES,
        AddFiles,
        CheckFiles,
        EnsureVectorStore,
        FileToAdd,
        IndexedFile,
        RemoveFiles,
        UploadFiles,
        WaitForFiles,
    )

A = TypeVar("A")
R = TypeVar("R")
PERMANENT_FAILURES = frozenset({"unsupported_file", "invalid_file"})
FILES_PER_UPLOAD = 100
UPLOAD_ACTIVITIES_AT_ONCE = 4


@workflow.defn(name="VectorStoreIngest", failure_exception_types=[ValidationError])
class VectorStoreIngest:
    """Fill a vector store with files and wait until they are indexed."""

    @workflow.init
    def __init__(self, request: IngestRequest) -> None:
        self.request = request
        self.summary = request.summary()
        self.phase = "checking"
        self.phase_done = 0
        self.phase_total = len(request.files)
        self.outcomes: list[FileOutcome] = []
        self.state: dict[int, str] = {}
        self.parts: Parts | None = None
        self.bytes_uploaded = 0

    @workflow.run
    async def run(self, request: IngestRequest) -> IngestResult:
        if len(request.files) > request.files_per_child:
            if (refused := request.too_many_parts()) is not None:
                raise ApplicationError(refused, type="InvalidIngestRequest", non_retryable=True)
            return await self._in_children(request)
        self.outcomes = [
            FileOutcome(source=f.source, index=i, status="skipped")
            for i, f in enumerate(request.files)
        ]
        self.state = dict.fromkeys(range(len(request.files)), "pending")
        accepted = await self._check()
        self._enter("uploading", len(accepted), f"{len(accepted)} files")
        ensure = EnsureVectorStore(spec=request.vector_store)
        store = await self._call(ENSURE_VECTOR_STORE, ensure, "ensure the vector store")
        await self._upload(accepted)
        pending = [i for i in accepted if self.outcomes[i].file_id is not None]
        for attempt in range(1, request.max_file_attempts + 1):
            self._enter("indexing", len(pending), f"attempt {attempt}: {len(pending)} files")
            await self._index(store, pending)
            pending = [i for i in pending if self._retryable(i)]
            if not pending or attempt == request.max_file_attempts:
                break
            ids = [self.outcomes[i].file_id or "" for i in pending]
            remove = RemoveFiles(vector_store_id=store, file_ids=ids)
            await self._call(REMOVE_FILES, remove, f"remove {len(ids)} files to add them again")
        return await self._done(store)

    async def _done(self, store: str) -> IngestResult:
        counts = await self._counted(store, len(self.outcomes))
        listing = Listing()
        for outcome in self.outcomes:
            listing.add(outcome)
        return _as_result(listing.result(store, counts, parts=[]))

    async def _in_children(self, request: IngestRequest) -> IngestResult:
        """Ingest the files by child workflows of `files_per_child`, in order. Each part's
        files are let go of once handed over and its outcomes kept as JSON (`Parts`): the
        parent's memory does not grow by an object per file."""
        per, parts = request.files_per_child, Parts(len(request.files))
        self.parts = parts
        self._enter("ingesting", len(request.files), f"parts of {per} files")
        ensure = EnsureVectorStore(spec=request.vector_store)
        store = await self._call(ENSURE_VECTOR_STORE, ensure, "ensure the vector store")
        for start in range(0, parts.files, per):
            end = min(start + per, parts.files)
            part_id = f"{workflow.info().workflow_id}/files-{start}"
            result = await workflow.execute_child_workflow(
                "VectorStoreIngest",
                _next_part(request, store),
                id=part_id,
                static_summary=f"files {start + 1}-{end}",
                result_type=RawValue,
            )
            parts.add(part_id, result)
            self.phase_done = parts.done
        counts = await self._counted(store, parts.files)
        return _as_result(parts.result(store, counts))

    async def _counted(self, store: str, files: int) -> dict[str, int]:
        """The store's file counts, once all `files` are done."""
        counts: dict[str, int] = await self._call(FILE_COUNTS, store, "count the store's files")
        self._enter("done", files, f"{counts}")
        self.phase_done = files
        return counts

    @workflow.query
    def progress(self) -> IngestProgress:
        if self.parts is not None:
            return self.parts.progress(self.phase, self.phase_done, self.phase_total)
        return IngestProgress(
            phase=self.phase,
            files=len(self.outcomes),
            bytes_total=sum(o.bytes for o in self.outcomes),
            bytes_uploaded=self.bytes_uploaded,
            by_status=dict(Counter(self.state.values())),
            phase_done=self.phase_done,
            phase_total=self.phase_total,
        )

    async def _check(self) -> list[int]:
        """Indexes of the files that may be uploaded; the others are skipped with the reason."""
        files = CheckFiles(files=self.request.files)
        checks = await self._call(CHECK_FILES, files, f"check {len(files.files)} files")
        accepted = []
        for index, check in enumerate(checks):
            outcome = self.outcomes[index]
            outcome.bytes, outcome.last_error = check.bytes, check.error
            if check.error is None:
                accepted.append(index)
                outcome.status = "cancelled"  # until indexing says otherwise
            else:
                self.state[index] = "skipped"
        self.phase_done = len(checks)
        return accepted

    async def _upload(self, indexes: list[int]) -> None:
        for index in indexes:
            file = self.request.files[index]
            if file.file_id is not None:
                self.outcomes[index].file_id = file.file_id
                self.phase_done += 1
        to_upload = [i for i in indexes if self.request.files[i].file_id is None]
        in_flight = asyncio.Semaphore(UPLOAD_ACTIVITIES_AT_ONCE)
        chunks = _chunks(to_upload, FILES_PER_UPLOAD)
        await asyncio.gather(*(self._upload_chunk(chunk, in_flight) for chunk in chunks))

    async def _upload_chunk(self, indexes: list[int], in_flight: asyncio.Semaphore) -> None:
        files: list[IngestFile] = [self.request.files[i] for i in indexes]
        request = UploadFiles(files=files, concurrency=self.request.upload_concurrency)
        async with in_flight:
            uploaded = await self._call(UPLOAD_FILES, request, f"upload {len(files)} files")
        for index, result in zip(indexes, uploaded, strict=True):
            self.outcomes[index].file_id = result.file_id
            self.bytes_uploaded += result.bytes
            self.state[index] = "uploaded"
        self.phase_done += len(indexes)

    async def _index(self, store: str, indexes: list[int]) -> None:
        for batch in _chunks(indexes, self.request.batch_size):
            files = [self._to_add(i) for i in batch]
            present = await self._add(AddFiles(vector_store_id=store, files=files))
            wait = WaitForFiles(vector_store_id=store, file_ids=[f.file_id for f in files])
            indexed = await self._call(WAIT_FOR_FILES, wait, f"wait for {len(files)} to index")
            self._record(batch, indexed, present)
            self.phase_done += len(batch)

    async def _add(self, add: AddFiles) -> set[str]:
        """Add files to the store; the ids of those that were in it already."""
        summary = f"add {len(add.files)} files"
        present: list[str] = await self._call(ADD_NEW_FILES, add, summary)
        return set(present)

    def _to_add(self, index: int) -> FileToAdd:
        file_id = self.outcomes[index].file_id or ""
        return FileToAdd(file_id=file_id, attributes=self.request.files[index].attributes)

    def _record(self, batch: list[int], indexed: list[IndexedFile], present: set[str]) -> None:
        by_id = {file.file_id: file for file in indexed}
        for index in batch:
            outcome = self.outcomes[index]
            found = by_id.get(outcome.file_id or "")
            outcome.attempts += 1
            outcome.already_in_store = outcome.file_id in present
            outcome.status = "failed"
            if found is not None and found.status in ("completed", "cancelled"):
                outcome.status = "completed" if found.status == "completed" else "cancelled"
            outcome.last_error = found.last_error if found else None
            self.state[index] = outcome.status

    def _retryable(self, index: int) -> bool:
        outcome = self.outcomes[index]
        error = outcome.last_error
        return outcome.status == "failed" and (
            error is None or error.code not in PERMANENT_FAILURES
        )

    def _enter(self, phase: str, files: int, details: str) -> None:
        self.phase, self.phase_done, self.phase_total = phase, 0, files
        workflow.set_current_details(f"{self.summary}\n\n**{phase}**: {details}")

    async def _call(self, step: Step[A, R], argument: A, summary: str) -> R:
        return await call_api(step, argument, self.request.timeouts, summary)


def _chunks(items: list[int], size: int) -> list[list[int]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def _next_part(request: IngestRequest, store: str) -> dict[str, object]:
    """The input of the next part: the first `files_per_child` files, taken off the request.
    Without `files_per_child` unless a part holds more files than its default, so a worker
    that predates the field (a rolling deploy) can still run the part."""
    files = request.files[: request.files_per_child]
    del request.files[: request.files_per_child]
    update = {"vector_store": VectorStoreSpec(id=store), "files": files}
    part = request.model_copy(update=update)
    default = IngestRequest.model_fields["files_per_child"].default
    within_default = part.files_per_child <= default
    return part.model_dump(mode="json", exclude={"files_per_child"} if within_default else None)


def _as_result(payload: RawValue) -> IngestResult:
    """The SDK passes a `RawValue` through as the workflow's result, which clients read as
    the `IngestResult` it holds (built as JSON, within its budget, by `Listing`)."""
    return cast(IngestResult, payload)
