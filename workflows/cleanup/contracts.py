"""The public contracts of `Cleanup`: the policy it applies and the report it returns.

These JSON shapes are a public API. New fields only with defaults; never rename a field.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from workflows.common import Contract, RunTimeouts

CleanupKind = Literal["threads", "vector_stores", "files"]


class CleanupPolicy(Contract):
    """Input of `Cleanup`: what may be deleted. An age of None leaves that kind alone."""

    thread_max_age_seconds: float | None = Field(None, ge=0)
    vector_store_max_age_seconds: float | None = Field(None, ge=0)
    file_max_age_seconds: float | None = Field(None, ge=0)
    metadata: dict[str, str] = Field(
        default_factory=dict, description="vector stores must carry all these metadata pairs"
    )
    workflow_query: str | None = Field(
        None,
        description="extra visibility filter for the runs whose threads may be deleted, "
        "e.g. TaskQueue = 'tenant-a'",
    )
    in_use_seconds: float = Field(
        24 * 3600.0,
        ge=0,
        description="a vector store of an assistant that ran within this window is in use",
    )
    delete_in_use: bool = False
    dry_run: bool = False
    max_deletions: int = Field(1000, ge=1)
    timeouts: RunTimeouts = Field(default_factory=RunTimeouts)

    @property
    def kinds(self) -> list[CleanupKind]:
        ages: list[tuple[CleanupKind, float | None]] = [
            ("threads", self.thread_max_age_seconds),
            ("vector_stores", self.vector_store_max_age_seconds),
            ("files", self.file_max_age_seconds),
        ]
        return [kind for kind, age in ages if age is not None]


class CleanupItem(Contract):
    kind: CleanupKind
    id: str
    reason: str = ""


class CleanupReport(Contract):
    """Output of `Cleanup`. In a dry run `deleted` lists what would have been deleted."""

    dry_run: bool
    deleted: list[CleanupItem] = Field(default_factory=list)
    skipped: list[CleanupItem] = Field(default_factory=list)
    failed: list[CleanupItem] = Field(default_factory=list)
