"""The ingest steps: checks, deduplicated uploads, batches and indexing waits."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openai
from openai import AsyncOpenAI
from openai.types import VectorStore
from temporalio import activity

from activities.heartbeats import heartbeating
from activities.openai_errors import api_errors, checked
from activities.ownership import is_owned, owned_metadata
from activities.uploads import Uploads
from activities.vector_stores.files import check_file, content_hash
from workflows.common import RunError
from workflows.ingest.contracts import IngestFile, VectorStoreSpec
from workflows.ingest.steps import (
    ADD_NEW_FILES,
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

REMOVALS_AT_ONCE = 8


class VectorStoreActivities:
    """The steps of `VectorStoreIngest`: files checked, uploaded once, added and indexed."""

    def __init__(self, client: AsyncOpenAI, poll_interval: float = 0.25, max_poll: float = 5.0):
        self.client = client
        self.uploads = Uploads(client)
        self.poll_interval = poll_interval
        self.max_poll = max_poll

    @activity.defn(name=CHECK_FILES.name)
    async def check_files(self, request: CheckFiles) -> list[CheckedFile]:
        async with heartbeating():
            return [await asyncio.to_thread(check_file, f) for f in request.files]

    @activity.defn(name=UPLOAD_FILES.name)
    async def upload_files(self, request: UploadFiles) -> list[UploadedFile]:
        """Upload files (streamed from disk) unless their content is already uploaded."""
        async with heartbeating():
            hashed = await asyncio.gather(
                *(asyncio.to_thread(content_hash, f) for f in request.files)
            )
            with api_errors("listing uploaded files"):
                existing = await self.uploads.existing({digest for digest, _ in hashed})
            limit = asyncio.Semaphore(request.concurrency)

            async def one(file: IngestFile, digest: str, size: int) -> UploadedFile:
                async with limit:
                    return await self._upload(file, digest, size, existing)

            uploads = (one(f, *h) for f, h in zip(request.files, hashed, strict=True))
            return list(await asyncio.gather(*uploads))

    @activity.defn(name=ENSURE_VECTOR_STORE.name)
    async def ensure_vector_store(self, request: EnsureVectorStore) -> str:
        """The store's id: the one named, or the oldest of ours with its name (created if
        none). Callers racing to create it all converge on the oldest; extras are deleted."""
        spec = request.spec
        async with heartbeating():
            with api_errors(f"ensuring vector store {spec.id or spec.name!r}"):
                if spec.id is not None:
                    return checked(await self.client.vector_stores.retrieve(spec.id)).id
                found = await self._owned_stores(spec.name)
                if not found:
                    await self.client.vector_stores.create(**_store_params(spec))
                    found = await self._owned_stores(spec.name)
                oldest, *extras = sorted(found, key=lambda s: (s.created_at, s.id))
                for extra in extras:
                    with contextlib.suppress(openai.NotFoundError):
                        await self.client.vector_stores.delete(extra.id)
        return oldest.id

    @activity.defn(name=ADD_NEW_FILES.name)
    async def add_new_files(self, request: AddFiles) -> list[str]:
        """Add files in one batch, except those already in the store; the ids of those. The
        first attempt heartbeats what it found, so a retry (its batch may have been created)
        still reports the files that were there before this ingest, not the ones it added."""
        store = request.vector_store_id
        retried = activity.info().heartbeat_details
        found_first: list[str] | None = list(retried[0]) if retried else None
        async with heartbeating(lambda: () if found_first is None else (found_first,)):
            with api_errors(f"adding files to {store}"):
                present = {f["id"] async for f in self._store_files(store)}
                if found_first is None:
                    found_first = sorted(present & {f.file_id for f in request.files})
                    activity.heartbeat(found_first)
                files = [f for f in request.files if f.file_id not in present]
                if files:
                    await self.client.vector_stores.file_batches.create(
                        store,
                        files=[{"file_id": f.file_id, "attributes": f.attributes} for f in files],
                    )
        return found_first

    @activity.defn(name=WAIT_FOR_FILES.name)
    async def wait_for_files(self, request: WaitForFiles) -> list[IndexedFile]:
        """Wait, with backoff, until none of these files is in progress; their outcomes."""
        store = request.vector_store_id
        wanted = set(request.file_ids)
        async with heartbeating():
            with api_errors(f"waiting for the files of {store}"):
                delay = self.poll_interval
                while {f["id"] async for f in self._store_files(store, "in_progress")} & wanted:
                    await asyncio.sleep(delay)
                    delay = min(delay * 1.5, self.max_poll)
                found: list[IndexedFile] = []
                async for file in self._store_files(store, order="desc"):  # newest first
                    if file["id"] in wanted:
                        found.append(_indexed(file))
                        if len(found) == len(wanted):
                            break
                return found

    @activity.defn(name=REMOVE_FILES.name)
    async def remove_files(self, request: RemoveFiles) -> None:
        """Take files out of a store (before adding them again); gone already is fine."""
        store = request.vector_store_id
        limit = asyncio.Semaphore(REMOVALS_AT_ONCE)

        async def remove(file_id: str) -> None:
            async with limit:
                with contextlib.suppress(openai.NotFoundError):
                    await self.client.vector_stores.files.delete(file_id, vector_store_id=store)

        async with heartbeating():
            with api_errors(f"removing files from {store}"):
                await asyncio.gather(*(remove(file_id) for file_id in request.file_ids))

    @activity.defn(name=FILE_COUNTS.name)
    async def file_counts(self, vector_store_id: str) -> dict[str, int]:
        with api_errors(f"reading {vector_store_id}"):
            store = await self.client.vector_stores.retrieve(vector_store_id)
        return store.file_counts.model_dump()

    async def _store_files(
        self, store: str, status: str | None = None, order: str = "asc"
    ) -> AsyncIterator[dict[str, Any]]:
        """A store's files (with `status` only), as plain JSON: an ingest lists its store
        once or twice per batch, and building the SDK's objects cost more than the request."""
        after: str | None = None
        while True:
            query: dict[str, Any] = {"limit": 100, "order": order}
            query.update({"filter": status} if status else {})
            query.update({"after": after} if after else {})
            listed = await self.client.vector_stores.files.with_raw_response.list(store, **query)
            page = json.loads(listed.content)
            for file in page["data"]:
                yield file
            if not page.get("has_more") or not page["data"]:
                return
            after = page["data"][-1]["id"]

    async def _owned_stores(self, name: str | None) -> list[VectorStore]:
        return [
            store
            async for store in self.client.vector_stores.list(limit=100)
            if store.name == name and is_owned(store.metadata)
        ]

    async def _upload(
        self, file: IngestFile, digest: str, size: int, existing: dict[str, str]
    ) -> UploadedFile:
        if digest in existing:
            return UploadedFile(file_id=existing[digest], bytes=size, reused=True)
        name = Path(file.path).name if file.path else file.filename or ""
        content = Path(file.path) if file.path is not None else (file.text or "").encode()
        with api_errors(f"uploading {file.source}"):
            file_id = await self.uploads.upload(name, content, digest)
        existing[digest] = file_id
        return UploadedFile(file_id=file_id, bytes=size, reused=False)


def _store_params(spec: VectorStoreSpec) -> dict[str, Any]:
    params: dict[str, Any] = {"name": spec.name, "metadata": owned_metadata(spec.metadata)}
    for key in ("expires_after", "chunking_strategy"):
        if getattr(spec, key) is not None:
            params[key] = getattr(spec, key)
    return params


def _indexed(file: dict[str, Any]) -> IndexedFile:
    error = file.get("last_error")
    return IndexedFile(
        file_id=file["id"],
        status=file["status"],
        last_error=RunError(code=error["code"], message=error["message"]) if error else None,
    )
