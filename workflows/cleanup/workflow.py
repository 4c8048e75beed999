"""Cleanup: delete the threads, vector stores and files a policy names; started by a
Temporal Schedule (`durable-assistants cleanup schedule`) or once (`cleanup run`)."""

from __future__ import annotations

from pydantic import ValidationError
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.cleanup.contracts import CleanupPolicy, CleanupReport
    from workflows.cleanup.steps import (
        DELETE_RESOURCES,
        FIND_CANDIDATES,
        DeleteResources,
        FindCandidates,
    )
    from workflows.common import call_api

PAGE = 100


@workflow.defn(name="Cleanup", failure_exception_types=[ValidationError])
class Cleanup:
    """Delete what a cleanup policy names, in pages, and report what went and what stayed."""

    @workflow.run
    async def run(self, policy: CleanupPolicy) -> CleanupReport:
        request = FindCandidates(policy=policy, now=workflow.now().timestamp())
        found = await call_api(FIND_CANDIDATES, request, policy.timeouts, "find old resources")
        chosen = found.delete[: policy.max_deletions]
        over_cap = [
            item.model_copy(update={"reason": "max_deletions reached"})
            for item in found.delete[policy.max_deletions :]
        ]
        report = CleanupReport(dry_run=policy.dry_run, skipped=[*found.keep, *over_cap])
        workflow.set_current_details(f"{len(chosen)} to delete, {len(report.skipped)} kept")
        if policy.dry_run:
            report.deleted = chosen
            return report
        for start in range(0, len(chosen), PAGE):
            page = chosen[start : start + PAGE]
            summary = f"delete {len(page)} ({start + len(page)}/{len(chosen)})"
            delete = DeleteResources(items=page)
            refused = await call_api(DELETE_RESOURCES, delete, policy.timeouts, summary)
            refused_ids = {item.id for item in refused}
            report.deleted += [item for item in page if item.id not in refused_ids]
            report.failed += refused
        return report
