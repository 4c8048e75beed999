"""Cleanup: delete the threads, vector stores and files a policy names; started by a
Temporal Schedule (`durable-assistants cleanup schedule`) or once (`cleanup run`)."""

from __future__ import annotations

from pydantic import ValidationError
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.activity_options import api_call_options
    from workflows.cleanup_steps import (
        DELETE_RESOURCES,
        FIND_CANDIDATES,
        Candidates,
        DeleteResources,
        FindCandidates,
    )
    from workflows.contracts import CleanupItem, CleanupPolicy, CleanupReport

PAGE = 100


@workflow.defn(name="Cleanup", failure_exception_types=[ValidationError])
class Cleanup:
    @workflow.run
    async def run(self, policy: CleanupPolicy) -> CleanupReport:
        request = FindCandidates(policy=policy, now=workflow.now().timestamp())
        found: Candidates = await workflow.execute_activity(
            FIND_CANDIDATES, request, result_type=Candidates, summary="find old resources",
            **api_call_options(policy.timeouts),
        )  # fmt: skip
        chosen = found.delete[: policy.max_deletions]
        over_cap = [item.model_copy(update={"reason": "max_deletions reached"})
                    for item in found.delete[policy.max_deletions :]]  # fmt: skip
        report = CleanupReport(dry_run=policy.dry_run, skipped=[*found.keep, *over_cap])
        workflow.set_current_details(f"{len(chosen)} to delete, {len(report.skipped)} kept")
        if policy.dry_run:
            report.deleted = chosen
            return report
        for start in range(0, len(chosen), PAGE):
            page = chosen[start : start + PAGE]
            refused: list[CleanupItem] = await workflow.execute_activity(
                DELETE_RESOURCES, DeleteResources(items=page), result_type=list[CleanupItem],
                summary=f"delete {len(page)} ({start + len(page)}/{len(chosen)})",
                **api_call_options(policy.timeouts),
            )  # fmt: skip
            refused_ids = {item.id for item in refused}
            report.deleted += [item for item in page if item.id not in refused_ids]
            report.failed += refused
        return report
