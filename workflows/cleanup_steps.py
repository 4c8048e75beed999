"""What `Cleanup` asks of its activities: names and payloads."""

from __future__ import annotations

from workflows.contracts import CleanupItem, CleanupPolicy, Contract

FIND_CANDIDATES = "cleanup.find_candidates"
DELETE_RESOURCES = "cleanup.delete"


class Candidates(Contract):
    """What the policy names, and what it names but must be kept (with the reason)."""

    delete: list[CleanupItem]
    keep: list[CleanupItem]


class FindCandidates(Contract):
    policy: CleanupPolicy
    now: float


class DeleteResources(Contract):
    items: list[CleanupItem]
