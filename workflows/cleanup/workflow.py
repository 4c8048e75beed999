"""Cleanup: delete the threads, vector stores and files a policy names, and only what this
system created unless the policy says otherwise; started by a Temporal Schedule
(`durable-assistants cleanup schedule`) or once (`cleanup run`).

    for each kind: find a page of candidates -> delete them -> next page ... (continue as new
    every `pages_per_execution` pages, carrying the cursor and the report so far)
"""

from __future__ import annotations

from pydantic import ValidationError
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.cleanup.contracts import (
        CleanupCarry,
        CleanupKind,
        CleanupPolicy,
        CleanupReport,
    )
    from workflows.cleanup.steps import (
        DELETE_RESOURCES,
        FIND_CANDIDATES,
        Candidates,
        DeleteResources,
        FindCandidates,
    )
    from workflows.common import call_api

FOREIGN_WARNING = "include_foreign: {n} objects this system did not create were {done}"


@workflow.defn(name="Cleanup", failure_exception_types=[ValidationError])
class Cleanup:
    """Delete what a cleanup policy names, in pages, and report what went and what stayed."""

    @workflow.init
    def __init__(self, policy: CleanupPolicy) -> None:
        carried = policy.carried
        self.now = carried.now if carried else workflow.now().timestamp()
        self.report = carried.report if carried else CleanupReport(dry_run=policy.dry_run)

    @workflow.run
    async def run(self, policy: CleanupPolicy) -> CleanupReport:
        carried = policy.carried
        kinds = policy.kinds
        start = kinds.index(carried.kind) if carried else 0
        for kind in kinds[start:]:
            cursor = carried.cursor if carried and kind == carried.kind else None
            await self._sweep(policy, kind, cursor)
        if self.report.foreign_deleted:
            done = "listed for deletion (dry run)" if policy.dry_run else "deleted"
            warning = FOREIGN_WARNING.format(n=self.report.foreign_deleted, done=done)
            self.report.warnings.append(warning)
        return self.report

    async def _sweep(self, policy: CleanupPolicy, kind: CleanupKind, cursor: str | None) -> None:
        pages = 0
        while True:
            workflow.set_current_details(f"{policy.summary()}\n\n**{kind}**: {self._progress()}")
            find = FindCandidates(policy=_uncarried(policy), now=self.now, kind=kind, cursor=cursor)
            page = await call_api(FIND_CANDIDATES, find, policy.timeouts, f"find old {kind}")
            deleted = await self._apply(policy, page)
            cursor, pages = _after(page, cursor, deleted), pages + 1
            if cursor is None or self._deletions_left(policy) == 0:
                return
            if (
                pages >= policy.pages_per_execution
                or workflow.info().is_continue_as_new_suggested()
            ):
                carry = CleanupCarry(now=self.now, kind=kind, cursor=cursor, report=self.report)
                workflow.continue_as_new(policy.model_copy(update={"carried": carry}))

    async def _apply(self, policy: CleanupPolicy, page: Candidates) -> set[str]:
        """Delete what the page names, within max_deletions; the ids deleted."""
        room = self._deletions_left(policy)
        chosen, over = page.delete[:room], page.delete[room:]
        capped = [i.model_copy(update={"reason": "max_deletions reached"}) for i in over]
        self.report.add("skipped", [*page.keep, *capped])
        if policy.dry_run or not chosen:
            self.report.add("deleted", chosen)
            return set()
        summary = f"delete {len(chosen)} ({self._progress()})"
        delete = DeleteResources(items=chosen)
        deletion = await call_api(DELETE_RESOURCES, delete, policy.timeouts, summary)
        not_deleted = {item.id for item in [*deletion.refused, *deletion.kept]}
        deleted = [i for i in chosen if i.id not in not_deleted]
        self.report.add("deleted", deleted)
        self.report.add("skipped", deletion.kept)
        self.report.add("failed", deletion.refused)
        return {item.id for item in deleted}

    def _deletions_left(self, policy: CleanupPolicy) -> int:
        return max(0, policy.max_deletions - self.report.deleted_count)

    def _progress(self) -> str:
        report = self.report
        return f"{report.deleted_count} deleted, {report.skipped_count} kept"


def _after(page: Candidates, cursor: str | None, deleted: set[str]) -> str | None:
    """Where the next page begins: after the page's last object still there (a deleted one
    is no place to list from: the API may start over), or where this page began ("": the
    start) when none is; None after the last page."""
    if page.next_cursor is None or not page.page_ids:
        return page.next_cursor
    left = [object_id for object_id in page.page_ids if object_id not in deleted]
    return left[-1] if left else cursor or ""


def _uncarried(policy: CleanupPolicy) -> CleanupPolicy:
    """The policy as activities need it: without the carried report."""
    return policy.model_copy(update={"carried": None})
