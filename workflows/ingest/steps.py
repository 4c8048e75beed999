"""What `VectorStoreIngest` asks of its activities: step names and payloads."""

from __future__ import annotations

from pydantic import Field

from workflows.common import Record, RunError, Step
from workflows.ingest.contracts import IngestFile, VectorStoreSpec


class CheckFiles(Record):
    files: list[IngestFile]


class CheckedFile(Record):
    """Whether a file may be uploaded: `error` says why not (extension, size, empty, unreadable)."""

    bytes: int = 0
    error: RunError | None = None


class UploadFiles(Record):
    files: list[IngestFile]
    concurrency: int = 8


class UploadedFile(Record):
    file_id: str
    bytes: int
    reused: bool = Field(description="the same content was uploaded before: not sent again")


class EnsureVectorStore(Record):
    spec: VectorStoreSpec


class FileToAdd(Record):
    file_id: str
    attributes: dict[str, str | float | bool] = Field(default_factory=dict)


class AddFiles(Record):
    vector_store_id: str
    files: list[FileToAdd] = Field(max_length=500)


class WaitForFiles(Record):
    vector_store_id: str
    file_ids: list[str]


class IndexedFile(Record):
    file_id: str
    status: str
    last_error: RunError | None = None


class RemoveFiles(Record):
    vector_store_id: str
    file_ids: list[str]


CHECK_FILES = Step("ingest.check_files", CheckFiles, list[CheckedFile])
UPLOAD_FILES = Step("ingest.upload_files", UploadFiles, list[UploadedFile])
ENSURE_VECTOR_STORE = Step("ingest.ensure_vector_store", EnsureVectorStore, str)
ADD_NEW_FILES = Step("ingest.add_new_files", AddFiles, list[str])
"""The ids of the files that were in the store already (the others are added)."""
WAIT_FOR_FILES = Step("ingest.wait_for_files", WaitForFiles, list[IndexedFile])
REMOVE_FILES = Step("ingest.remove_files", RemoveFiles, type(None))
FILE_COUNTS = Step("ingest.file_counts", str, dict[str, int], heartbeats=False)
