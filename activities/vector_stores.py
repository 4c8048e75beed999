"""Files and vector stores: checks, deduplicated uploads, batches and indexing waits.

An upload's filename carries 16 hex digits of its content's sha256 (`notes.md` becomes
`notes.3f2a9c1b7d4e5f60.md`), so a retried upload or a re-run of the same ingest finds the
file it already sent instead of sending it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from pathlib import Path
from typing import Any

import openai
from openai import AsyncOpenAI
from temporalio import activity

from activities.heartbeats import heartbeating
from activities.openai_errors import api_errors, checked
from workflows.contracts import (
    FILE_SEARCH_EXTENSIONS,
    MAX_FILE_BYTES,
    IngestFile,
    RunError,
)
from workflows.ingest_steps import (
    ADD_FILES,
    CHECK_FILES,
    ENSURE_VECTOR_STORE,
    FILE_COUNTS,
    REMOVE_FILES,
    UPLOAD_FILES,
    WAIT_FOR_FILES,
    AddFiles,
    CheckedFile,
    CheckFiles,
    EnsureVectorStore,
    IndexedFile,
    RemoveFiles,
    UploadedFile,
    UploadFiles,
    WaitForFiles,
)

HASH_IN_NAME = re.compile(r"\.([0-9a-f]{16})(\.[^.]*)?$")
CHUNK_BYTES = 1024 * 1024


class VectorStoreActivities:
    def __init__(self, client: AsyncOpenAI, poll_interval: float = 0.25, max_poll: float = 5.0):
        self.client = client
        self.poll_interval = poll_interval
        self.max_poll = max_poll

    @activity.defn(name=CHECK_FILES)
    async def check_files(self, request: CheckFiles) -> list[CheckedFile]:
        return [await asyncio.to_thread(check_file, f) for f in request.files]

    @activity.defn(name=UPLOAD_FILES)
    async def upload_files(self, request: UploadFiles) -> list[UploadedFile]:
        """Upload files (streamed from disk) unless their content is already uploaded."""
        async with heartbeating():
            with api_errors("listing uploaded files"):
                existing = await self._uploaded_by_hash()
            limit = asyncio.Semaphore(request.concurrency)

            async def one(file: IngestFile) -> UploadedFile:
                async with limit:
                    return await self._upload(file, existing)

            return list(await asyncio.gather(*(one(f) for f in request.files)))

    @activity.defn(name=ENSURE_VECTOR_STORE)
    async def ensure_vector_store(self, request: EnsureVectorStore) -> str:
        spec = request.spec
        with api_errors(f"ensuring vector store {spec.id or spec.name!r}"):
            if spec.id is not None:
                return checked(await self.client.vector_stores.retrieve(spec.id)).id
            async for store in self.client.vector_stores.list(limit=100):
                if store.name == spec.name:
                    return store.id
            params: dict[str, Any] = {"name": spec.name, "metadata": spec.metadata or None}
            for key in ("expires_after", "chunking_strategy"):
                if getattr(spec, key) is not None:
                    params[key] = getattr(spec, key)
            return checked(await self.client.vector_stores.create(**params)).id

    @activity.defn(name=ADD_FILES)
    async def add_files(self, request: AddFiles) -> int:
        """Add files in one batch, except those already in the store (an earlier attempt may
        have added them); how many were added."""
        store = request.vector_store_id
        with api_errors(f"adding files to {store}"):
            present = {f.id async for f in self.client.vector_stores.files.list(store, limit=100)}
            files = [f for f in request.files if f.file_id not in present]
            if files:
                await self.client.vector_stores.file_batches.create(
                    store,
                    files=[{"file_id": f.file_id, "attributes": f.attributes} for f in files],
                )
        return len(files)

    @activity.defn(name=WAIT_FOR_FILES)
    async def wait_for_files(self, request: WaitForFiles) -> list[IndexedFile]:
        """Wait, with backoff, until none of these files is in progress; their outcomes."""
        files = self.client.vector_stores.files
        store = request.vector_store_id
        wanted = set(request.file_ids)
        async with heartbeating():
            with api_errors(f"waiting for the files of {store}"):
                delay = self.poll_interval
                while {
                    f.id async for f in files.list(store, filter="in_progress", limit=100)
                } & wanted:
                    await asyncio.sleep(delay)
                    delay = min(delay * 1.5, self.max_poll)
                return [_indexed(f) async for f in files.list(store, limit=100) if f.id in wanted]

    @activity.defn(name=REMOVE_FILES)
    async def remove_files(self, request: RemoveFiles) -> None:
        """Take files out of a store (before adding them again); gone already is fine."""
        with api_errors(f"removing files from {request.vector_store_id}"):
            for file_id in request.file_ids:
                with contextlib.suppress(openai.NotFoundError):
                    await self.client.vector_stores.files.delete(
                        file_id, vector_store_id=request.vector_store_id
                    )

    @activity.defn(name=FILE_COUNTS)
    async def file_counts(self, vector_store_id: str) -> dict[str, int]:
        with api_errors(f"reading {vector_store_id}"):
            store = await self.client.vector_stores.retrieve(vector_store_id)
        return store.file_counts.model_dump()

    async def _uploaded_by_hash(self) -> dict[str, str]:
        found = {}
        async for file in self.client.files.list(purpose="assistants"):
            match = HASH_IN_NAME.search(file.filename)
            if match:
                found[match[1]] = file.id
        return found

    async def _upload(self, file: IngestFile, existing: dict[str, str]) -> UploadedFile:
        digest, size = await asyncio.to_thread(content_hash, file)
        if digest in existing:
            return UploadedFile(file_id=existing[digest], bytes=size, reused=True)
        name = hashed_name(Path(file.path).name if file.path else file.filename or "", digest)
        with api_errors(f"uploading {file.source}"):
            if file.path is not None:
                with Path(file.path).open("rb") as content:
                    uploaded = await self.client.files.create(
                        file=(name, content), purpose="assistants"
                    )
            else:
                data = (file.text or "").encode()
                uploaded = await self.client.files.create(file=(name, data), purpose="assistants")
        existing[digest] = uploaded.id
        return UploadedFile(file_id=uploaded.id, bytes=size, reused=False)


def check_file(file: IngestFile) -> CheckedFile:
    """Whether file_search can index the file, decided before anything is uploaded."""
    if file.file_id is not None:
        return CheckedFile()
    name = Path(file.path).name if file.path else file.filename or ""
    extension = Path(name).suffix.lower()
    if extension not in FILE_SEARCH_EXTENSIONS:
        return _refused("unsupported_file", f"{name}: file_search does not index {extension!r}")
    if file.text is not None:
        size = len(file.text.encode())
    else:
        try:
            size = Path(file.path or "").stat().st_size
            with Path(file.path or "").open("rb"):
                pass
        except OSError as err:
            return _refused("unreadable_file", f"{file.path}: {err.strerror}")
    if size == 0:
        return _refused("empty_file", f"{name} is empty")
    if size > MAX_FILE_BYTES:
        return _refused("file_too_large", f"{name} is {size} bytes; the limit is 512 MB")
    return CheckedFile(bytes=size)


def content_hash(file: IngestFile) -> tuple[str, int]:
    """sha256 of the content, read in chunks (never the whole file at once), and its size."""
    digest = hashlib.sha256()
    if file.text is not None:
        data = file.text.encode()
        digest.update(data)
        return digest.hexdigest()[:16], len(data)
    size = 0
    with Path(file.path or "").open("rb") as content:
        while chunk := content.read(CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest()[:16], size


def hashed_name(name: str, digest: str) -> str:
    path = Path(name)
    return f"{path.stem}.{digest}{path.suffix}"


def _refused(code: str, message: str) -> CheckedFile:
    return CheckedFile(error=RunError(code=code, message=message))


def _indexed(file: Any) -> IndexedFile:
    error = file.last_error
    return IndexedFile(
        file_id=file.id,
        status=file.status,
        last_error=RunError(code=error.code, message=error.message) if error else None,
    )
