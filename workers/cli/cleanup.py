"""`durable-assistants cleanup schedule | run | pause | unpause | delete`."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from workers.connection import connect
from workers.settings import Settings, SettingsError
from workflows.cleanup.workflow import Cleanup
from workflows.contracts import CleanupPolicy, CleanupReport

SCHEDULE_ID = "durable-assistants-cleanup"
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(option: str, text: str | None) -> float | None:
    """'90s', '15m', '24h', '30d' in seconds; None stays None."""
    if text is None:
        return None
    match = _DURATION.match(text.strip())
    if not match:
        raise SettingsError(
            f"{option}: expected a duration like 90s, 15m, 24h or 30d, got {text!r}"
        )
    return float(match[1]) * _UNIT_SECONDS[match[2]]


def schedule_for(policy: CleanupPolicy, every: float, task_queue: str) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            Cleanup.run,
            policy,
            id=f"{SCHEDULE_ID}-run",
            task_queue=task_queue,
            static_summary=policy.summary(),
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=every))]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def schedule_command(
    settings: Settings, policy: CleanupPolicy, every: float, schedule_id: str = SCHEDULE_ID
) -> str:
    """Create the schedule, or update it to this policy if it exists; says which."""
    client = await connect(settings)
    schedule = schedule_for(policy, every, settings.temporal_task_queue)
    try:
        await client.create_schedule(schedule_id, schedule)
        return f"created schedule {schedule_id}"
    except ScheduleAlreadyRunningError:

        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(schedule_id).update(replace)
        return f"updated schedule {schedule_id}"


async def run_once(settings: Settings, policy: CleanupPolicy) -> CleanupReport:
    client = await connect(settings)
    return await client.execute_workflow(
        Cleanup.run,
        policy,
        id=f"cleanup-{uuid.uuid4()}",
        task_queue=settings.temporal_task_queue,
        static_summary=policy.summary(),
    )


async def control(settings: Settings, action: str, schedule_id: str = SCHEDULE_ID) -> str:
    client: Client = await connect(settings)
    handle = client.get_schedule_handle(schedule_id)
    try:
        if action == "pause":
            await handle.pause(note="paused from the CLI")
        elif action == "unpause":
            await handle.unpause(note="unpaused from the CLI")
        else:
            await handle.delete()
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:  # never created, or deleted
            raise
        raise SettingsError(
            f"no cleanup schedule {schedule_id!r}; create it with"
            " `durable-assistants cleanup schedule` (see its --help)"
        ) from err
    return f"{action}d schedule {schedule_id}"
