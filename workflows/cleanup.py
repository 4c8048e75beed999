"""Cleanup: delete the threads, vector stores and files a policy names; started by a
Temporal Schedule (`durable-assistants cleanup schedule`) or once (`cleanup run`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from workflows.cleanup_steps import (
        DELETE_RESOURCES,
        FIND_CANDIDATES,
        Candidates,
        DeleteResources,
        FindCandidates,
    )
    from workflows.contracts import CleanupItem, CleanupPolicy, CleanupReport

PAGE = 100


def activity_options(policy: CleanupPolicy) -> dict[str, Any]:
    timeouts = policy.timeouts
    return {
        "start_to_close_timeout": timedelta(seconds=timeouts.api_call_seconds),
        "heartbeat_timeout": timedelta(seconds=timeouts.heartbeat_seconds),
        "retry_policy": RetryPolicy(
            initial_interval=timedelta(seconds=timeouts.api_initial_retry_seconds),
            maximum_attempts=timeouts.api_max_attempts,
            maximum_interval=timedelta(seconds=30),
        ),
    }


@workflow.defn(name="Cleanup", failure_exception_types=[ValidationError])
class Cleanup:
    @workflow.run
    async def run(self, policy: CleanupPolicy) -> CleanupReport:
        request = FindCandidates(policy=policy, now=workflow.now().timestamp())
        found: Candidates = await workflow.execute_activity(
            FIND_CANDIDATES, request, result_type=Candidates, summary="find old resources",
            **activity_options(policy),
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
                **activity_options(policy),
            )  # fmt: skip
            refused_ids = {item.id for item in refused}
            report.deleted += [item for item in page if item.id not in refused_ids]
            report.failed += refused
        return report
