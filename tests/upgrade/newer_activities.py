"""Activities as a newer version serves them: the same results with a field older code does
not know (for the upgrade drill and the contract-evolution tests)."""

from __future__ import annotations

from typing import Any

from temporalio import activity

from workflows.run.steps import START_RUN, StartRun


def with_v2_start(served: list[Any]) -> list[Any]:
    """`served` with `run.start` returning its snapshot plus a field only v2 knows."""
    current = next(a for a in served if activity_name(a) == START_RUN.name)

    @activity.defn(name=START_RUN.name)
    async def start_v2(request: StartRun) -> dict[str, Any]:
        snapshot = await current(request)
        return {**snapshot.model_dump(mode="json"), "served_by": "v2"}

    return [start_v2 if a is current else a for a in served]


def activity_name(function: Any) -> str:
    return str(getattr(function, "__temporal_activity_definition").name)
