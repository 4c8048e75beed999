"""The public contracts of `Cleanup`: the policy it applies and the report it returns.

These JSON shapes are a public API. New fields only with defaults; never rename a field.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from workflows.common import Carrier, Record, RunTimeouts

CleanupKind = Literal["threads", "vector_stores", "files"]


class CleanupPolicy(Carrier):
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
    include_foreign: bool = Field(
        False,
        description="also delete what this system did not create (untagged vector stores and "
        "threads, files not named by it): off unless you mean it; the report says so loudly",
    )
    dry_run: bool = False
    max_deletions: int = Field(1000, ge=1)
    pages_per_execution: int = Field(
        50, ge=1, description="pages of 100 objects between continue-as-new"
    )
    timeouts: RunTimeouts = Field(default_factory=RunTimeouts)
    carried: CleanupCarry | None = Field(None, description="set by continue-as-new only")

    def summary(self) -> str:
        """One line for the Temporal UI: what this cleanup deletes, and from what age."""
        ages = {
            "threads": self.thread_max_age_seconds,
            "vector stores": self.vector_store_max_age_seconds,
            "files": self.file_max_age_seconds,
        }
        aged = [
            f"{kind} older than {age / 3600:g} h" for kind, age in ages.items() if age is not None
        ]
        what = ", ".join(aged)
        return f"cleanup{' (dry run)' if self.dry_run else ''}: {what or 'nothing'}"

    @property
    def kinds(self) -> list[CleanupKind]:
        ages: list[tuple[CleanupKind, float | None]] = [
            ("threads", self.thread_max_age_seconds),
            ("vector_stores", self.vector_store_max_age_seconds),
            ("files", self.file_max_age_seconds),
        ]
        return [kind for kind, age in ages if age is not None]


class CleanupItem(Record):
    kind: CleanupKind
    id: str
    reason: str = ""
    foreign: bool = Field(False, description="not created by this system")


REPORTED_ITEMS = 1000
"""How many items each list of a report keeps; the counts cover them all."""


class CleanupReport(Record):
    """Output of `Cleanup`. In a dry run `deleted` lists what would have been deleted. Each
    list keeps its first REPORTED_ITEMS items (`truncated` says when more were left out)."""

    dry_run: bool
    deleted: list[CleanupItem] = Field(default_factory=list)
    skipped: list[CleanupItem] = Field(default_factory=list)
    failed: list[CleanupItem] = Field(default_factory=list)
    deleted_count: int = 0
    skipped_count: int = 0
    failed_count: int = 0
    foreign_deleted: int = Field(0, description="of deleted_count: not created by this system")
    truncated: bool = False
    warnings: list[str] = Field(default_factory=list)

    def add(
        self, outcome: Literal["deleted", "skipped", "failed"], items: list[CleanupItem]
    ) -> None:
        listed: list[CleanupItem] = getattr(self, outcome)
        room = REPORTED_ITEMS - len(listed)
        listed += items[:room]
        self.truncated = self.truncated or len(items) > room
        setattr(self, f"{outcome}_count", getattr(self, f"{outcome}_count") + len(items))
        if outcome == "deleted":
            self.foreign_deleted += sum(item.foreign for item in items)


class CleanupCarry(Record):
    """What continue-as-new carries over: where the sweep is, and what it did so far."""

    now: float
    kind: CleanupKind
    cursor: str | None
    report: CleanupReport


CleanupPolicy.model_rebuild()
