"""Activities heartbeat at their worker's heartbeat throttle (`HEARTBEAT_THROTTLE_SECONDS`):
beating faster only costs the worker CPU, since the SDK sends one heartbeat per interval."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from temporalio import activity, workflow
from temporalio.client import Client

from activities.heartbeats import beat_interval
from workers.settings import Settings
from workers.worker import build_worker


@activity.defn(name="probe.beat_interval")
async def report_beat_interval() -> float:
    return beat_interval()


@workflow.defn(name="BeatIntervalProbe", sandboxed=False)
class BeatIntervalProbe:
    @workflow.run
    async def run(self, heartbeat_timeout_seconds: float) -> float:
        interval: float = await workflow.execute_activity(
            report_beat_interval,
            start_to_close_timeout=timedelta(seconds=30),
            heartbeat_timeout=timedelta(seconds=heartbeat_timeout_seconds),
        )
        return interval


@pytest.mark.parametrize(
    ("throttle", "heartbeat_timeout", "interval"),
    [(7.0, 30.0, 7.0), (0.5, 30.0, 0.5), (7.0, 3.0, 1.0)],
    ids=["throttle", "short-throttle", "timeout-bound"],
)
async def test_an_activity_beats_at_its_workers_heartbeat_throttle(
    client: Client,
    task_queue: str,
    settings: Settings,
    throttle: float,
    heartbeat_timeout: float,
    interval: float,
) -> None:
    paced = settings.model_copy(update={"heartbeat_throttle_seconds": throttle})
    async with build_worker(
        client, paced, workflows=[BeatIntervalProbe], activities=[report_beat_interval]
    ):
        beats_every = await client.execute_workflow(
            BeatIntervalProbe.run,
            heartbeat_timeout,
            id=f"beat-{uuid.uuid4()}",
            task_queue=task_queue,
        )
    assert beats_every == pytest.approx(interval)
