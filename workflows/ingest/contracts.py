"""The public contracts of `VectorStoreIngest`: its input, result and progress query.

These JSON shapes are a public API. New fields only with defaults; never rename a field.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator
from pydantic.dataclasses import dataclass

from workflows.common import Contract, Metadata, Record, RunError, RunTimeouts

FILE_SEARCH_EXTENSIONS = frozenset(
    [
        ".c",
        ".cpp",
        ".cs",
        ".css",
        ".doc",
        ".docx",
        ".go",
        ".html",
        ".java",
        ".js",
        ".json",
        ".md",
        ".pdf",
        ".php",
        ".pptx",
        ".py",
        ".rb",
        ".sh",
        ".tex",
        ".ts",
        ".txt",
    ]
)
"""Extensions file_search indexes (OpenAI's supported-files list)."""
MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_INLINE_CHARS = 1_000_000
"""Inline `text` a request may carry in all (it travels in workflow history): upload larger
files and pass their `file_id`, or a `path` the workers can read."""
MAX_FILES = 10_000
RESULT_BUDGET = 512 * 1024
"""Bytes of JSON an ingest's result may spend on its lists of outcomes. Temporal warns of a
payload over 512 KiB and refuses one over 2 MiB: a workflow whose result is refused never
completes, however long its ingest took. Beyond the budget the result lists the files not
completed only (as many as fit), and counts the rest."""
MAX_PARTS = 100
"""Child workflows one ingest may split its files among: its parent's history grows by about
11 events per part, so a part size of 1 for 10,000 files would outgrow Temporal's limit of
51,200 events hours into the ingest."""


# A slotted dataclass rather than a model (the same JSON, validation and schema): an ingest
# holds up to MAX_FILES of them, and a model's `__dict__` and set of fields given per
# instance take five times the worker's memory.
@dataclass(config=ConfigDict(extra="forbid"), slots=True)
class IngestFile:
    """One file to index: a path the worker can read, an uploaded file id, or inline text."""

    path: str | None = Field(
        default=None, description="only for workers that share the caller's filesystem"
    )
    file_id: str | None = None
    text: str | None = Field(default=None, max_length=MAX_INLINE_CHARS)
    filename: str | None = Field(
        default=None,
        description="with `text`: its name (and extension); with `file_id`: its label",
    )
    attributes: dict[str, str | float | bool] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_source(self) -> IngestFile:
        sources = [self.path is not None, self.file_id is not None, self.text is not None]
        if sum(sources) != 1:
            raise ValueError("give exactly one of path, file_id and text")
        if self.text is not None and not self.filename:
            raise ValueError("filename: required with text")
        return self

    @property
    def source(self) -> str:
        return self.path or self.filename or self.file_id or ""


class VectorStoreSpec(Contract):
    """An existing store (`id`), or one ensured by `name` (never created twice)."""

    id: str | None = None
    name: str | None = None
    metadata: Metadata = Field(
        default_factory=dict,
        max_length=14,
        description="at most 14 pairs: created_by and workflow_id are added",
    )
    expires_after: dict[str, Any] | None = None
    chunking_strategy: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _id_or_name(self) -> VectorStoreSpec:
        if (self.id is None) == (self.name is None):
            raise ValueError("vector_store: give exactly one of id and name")
        return self


class IngestRequest(Contract):
    """Input of `VectorStoreIngest`."""

    vector_store: VectorStoreSpec
    files: list[IngestFile] = Field(min_length=1, max_length=MAX_FILES)
    max_file_attempts: int = Field(3, ge=1, le=10, description="indexing attempts per file")
    batch_size: int = Field(500, ge=1, le=500, description="files per batch (API limit 500)")
    upload_concurrency: int = Field(8, ge=1, le=64)
    files_per_child: int = Field(
        1000,
        ge=1,
        le=MAX_FILES,
        description="more files are ingested by child workflows of at most this many, one "
        f"after another (at most {MAX_PARTS} of them), so no execution's history or memory "
        "grows with the whole ingest",
    )
    timeouts: RunTimeouts = Field(default_factory=RunTimeouts)

    def summary(self) -> str:
        """One line for the Temporal UI: how many files into which store."""
        store = self.vector_store.name or self.vector_store.id
        count = len(self.files)
        return f"ingest {count} file{'' if count == 1 else 's'} into {store}"

    def too_many_parts(self) -> str | None:
        """Why the files cannot be split among MAX_PARTS child workflows; None if they can."""
        files, per = len(self.files), self.files_per_child
        parts = math.ceil(files / per)
        if parts <= MAX_PARTS:
            return None
        return (
            f"files_per_child: {files:,} files in parts of {per:,} make {parts:,} child "
            f"workflows, at most {MAX_PARTS} (give at least {math.ceil(files / MAX_PARTS):,})"
        )

    @model_validator(mode="after")
    def _inline_text_fits(self) -> IngestRequest:
        inline = sum(len(f.text or "") for f in self.files)
        if inline > MAX_INLINE_CHARS:
            raise ValueError(
                f"files: {inline:,} characters of inline text; at most {MAX_INLINE_CHARS:,} "
                "(upload larger files and pass their file_id)"
            )
        return self


class FileOutcome(Record):
    source: str
    index: int | None = Field(
        None, description="the file's position in the request's `files` (from 0)"
    )
    file_id: str | None = None
    status: Literal["completed", "failed", "skipped", "cancelled"]
    last_error: RunError | None = None
    attempts: int = 0
    bytes: int = 0
    already_in_store: bool = Field(
        False, description="the file was in the vector store before this ingest: not added again"
    )

    def index_or(self, position: int) -> int:
        """Its `index`, or `position` in the list it came in for an outcome from a worker
        older than `index` (which lists every file, in order)."""
        return position if self.index is None else self.index


class IngestProgress(Record):
    """Query `progress` of `VectorStoreIngest`."""

    phase: str
    files: int
    bytes_total: int = 0
    bytes_uploaded: int = 0
    by_status: dict[str, int] = Field(
        default_factory=dict, description="files by state: pending, uploaded, then the outcome"
    )
    phase_done: int = Field(0, description="files the current phase has finished")
    phase_total: int = Field(
        0, description="files the current phase works on (indexing: those of this attempt)"
    )


class IngestResult(Record):
    """Output of `VectorStoreIngest`."""

    vector_store_id: str
    files: list[FileOutcome] = Field(
        description="every file's outcome, in the request's order, when they fit in "
        f"{RESULT_BUDGET // 1024} KiB of JSON; otherwise those of the files not completed "
        "(the first that fit) and `files_omitted` counts the others"
    )
    file_counts: dict[str, int] = Field(description="the vector store's own file counts")
    skipped: list[FileOutcome] = Field(
        description="the files of `files` that were not uploaded, with the reason"
    )
    by_status: dict[str, int] = Field(
        default_factory=dict, description="this ingest's files by outcome, listed or not"
    )
    files_omitted: int = Field(
        0, description="outcomes left out of `files` to keep the result within its budget"
    )
    bytes_total: int = Field(0, description="the size of this ingest's files")
    bytes_uploaded: int = Field(0, description="the size of those that have a file id")
    parts: list[str] = Field(
        default_factory=list,
        description="the child workflows that ingested the files, in order: each one's "
        "result lists its own files' outcomes",
    )
