"""What `Cleanup` asks of its activities: step names and payloads, one page at a time."""

from __future__ import annotations

from pydantic import Field

from workflows.cleanup.contracts import CleanupItem, CleanupKind, CleanupPolicy
from workflows.common import Record, Step

PAGE = 100
"""Objects examined per page, so no payload ever holds an organisation's whole list."""


class FindCandidates(Record):
    """Look at one page of `kind`, from `cursor` on, as the policy stood at `now`."""

    policy: CleanupPolicy
    now: float
    kind: CleanupKind = "files"
    cursor: str | None = None


class Candidates(Record):
    """What the page holds that the policy names, and what it names but must be kept."""

    delete: list[CleanupItem]
    keep: list[CleanupItem]
    next_cursor: str | None = Field(None, description="None: that was the last page")
    page_ids: list[str] = Field(
        default_factory=list,
        description="the ids the page listed, in order (files and vector stores): the next "
        "page begins after the last one that is still there",
    )


class DeleteResources(Record):
    items: list[CleanupItem] = Field(max_length=PAGE)


class Deletion(Record):
    """How a page's deletion went: the items the API refused, and those found in use when
    checked again right before deleting (both with the reason)."""

    refused: list[CleanupItem] = Field(default_factory=list)
    kept: list[CleanupItem] = Field(default_factory=list)


FIND_CANDIDATES = Step("cleanup.find_candidates", FindCandidates, Candidates)
DELETE_RESOURCES = Step("cleanup.delete", DeleteResources, Deletion)
