"""What `VectorStoreIngest` asks of its activities: names and payloads."""

from __future__ import annotations

from pydantic import Field

from workflows.contracts import Contract, IngestFile, RunError, VectorStoreSpec

CHECK_FILES = "ingest.check_files"
UPLOAD_FILES = "ingest.upload_files"
ENSURE_VECTOR_STORE = "ingest.ensure_vector_store"
ADD_FILES = "ingest.add_files"
WAIT_FOR_FILES = "ingest.wait_for_files"
REMOVE_FILES = "ingest.remove_files"
FILE_COUNTS = "ingest.file_counts"


class CheckFiles(Contract):
    files: list[IngestFile]


class CheckedFile(Contract):
    """Whether a file may be uploaded: `error` says why not (extension, size, empty, unreadable)."""

    bytes: int = 0
    error: RunError | None = None


class UploadFiles(Contract):
    files: list[IngestFile]
    concurrency: int = 8


class UploadedFile(Contract):
    file_id: str
    bytes: int
    reused: bool = Field(description="the same content was uploaded before: not sent again")


class EnsureVectorStore(Contract):
    spec: VectorStoreSpec


class FileToAdd(Contract):
    file_id: str
    attributes: dict[str, str | float | bool] = Field(default_factory=dict)


class AddFiles(Contract):
    vector_store_id: str
    files: list[FileToAdd] = Field(max_length=500)


class WaitForFiles(Contract):
    vector_store_id: str
    file_ids: list[str]


class IndexedFile(Contract):
    file_id: str
    status: str
    last_error: RunError | None = None


class RemoveFiles(Contract):
    vector_store_id: str
    file_ids: list[str]
