"""What `Cleanup` asks of its activities: step names and payloads."""

from __future__ import annotations

from workflows.cleanup.contracts import CleanupItem, CleanupPolicy
from workflows.common import Contract, Step


class Candidates(Contract):
    """What the policy names, and what it names but must be kept (with the reason)."""

    delete: list[CleanupItem]
    keep: list[CleanupItem]


class FindCandidates(Contract):
    policy: CleanupPolicy
    now: float


class DeleteResources(Contract):
    items: list[CleanupItem]


FIND_CANDIDATES = Step("cleanup.find_candidates", FindCandidates, Candidates)
DELETE_RESOURCES = Step("cleanup.delete", DeleteResources, list[CleanupItem])
