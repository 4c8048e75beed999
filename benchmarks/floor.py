"""Temporal's floor for the runs benchmark: a workflow whose activities do nothing.

    python -m benchmarks.floor   # a worker process of its own, as `durable-assistants worker` is

The process serves TEMPORAL_TASK_QUEUE at TEMPORAL_ADDRESS with the project's data converter
and, with METRICS_PORT, the same Prometheus metrics as the project's worker, until SIGTERM.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
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


async def serve() -> None:
    from temporalio.client import Client
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.worker import Worker

    from workers.telemetry import temporal_runtime

    port = os.environ.get("METRICS_PORT")
    client = await Client.connect(
        os.environ["TEMPORAL_ADDRESS"],
        data_converter=pydantic_data_converter,
        runtime=temporal_runtime(int(port) if port else None),
    )
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    queue = os.environ["TEMPORAL_TASK_QUEUE"]
    async with Worker(client, task_queue=queue, workflows=[TemporalFloor], activities=[nothing]):
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(serve())
    sys.stdout.flush()
    os._exit(0)  # temporalio can abort the interpreter at exit
