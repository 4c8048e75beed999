"""Temporal's floor for the runs benchmark: a workflow whose activities do nothing."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn(name="bench.nothing")
async def nothing() -> None:
    return None


@workflow.defn(name="TemporalFloor")
class TemporalFloor:
    @workflow.run
    async def run(self, activities: int) -> None:
        for _ in range(activities):
            await workflow.execute_activity(
                "bench.nothing", start_to_close_timeout=timedelta(seconds=30)
            )
