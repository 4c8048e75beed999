"""Fleet-wide limits on model requests, held by the Temporal server, not by any one worker.

The model steps (`workflows.run.steps.MODEL_STEPS`: a run or response created, tool outputs
submitted; one model request per attempt) run on the model queue, `<task_queue>-model`, which
every project worker also polls. Two server-side settings of that queue limit the fleet:

- MODEL_REQUESTS_PER_SECOND: the rate each worker declares for the queue
  (`max_task_queue_activities_per_second`); the server dispatches the queue's activity tasks
  no faster, whichever worker polls (the server splits it over the queue's partitions).
- fleet back-off: a model request answered 429 with `retry-after` sets the queue's API rate
  limit (`UpdateTaskQueueConfig`, which overrides the workers' one) to zero until the
  retry-after has elapsed, its deadline in the limit's `reason`; then it is removed, which
  restores the workers' rate. The worker that set it removes it on time; every worker also
  looks every `GATE_CHECK_SECONDS` for a block whose deadline passed (its setter died).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from typing import Any

import openai
import structlog
from temporalio import activity
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import RateLimit, TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeTaskQueueRequest,
    UpdateTaskQueueConfigRequest,
)
from temporalio.client import Client
from temporalio.common import MetricMeter
from temporalio.exceptions import ApplicationError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from workflows.run.metrics import MODEL_BACKOFFS

log = structlog.get_logger(__name__)
SHORTEST_FLEET_BACKOFF_SECONDS = 1.0
"""A shorter `retry-after` is left to the activity's own retry: pausing the fleet costs about
a second of dispatch once the queue reopens, more than it would save."""
GATE_CHECK_SECONDS = 5.0
"""How often every worker looks for a back-off whose deadline passed and removes it."""
_REASON = "durable-assistants: 429 back-off until {until:.3f}"
_DEADLINE = re.compile(r"^durable-assistants: 429 back-off until (\d+(?:\.\d+)?)$")


class ModelGate:
    """The model queue's fleet-wide back-off: closed (rate zero) until a deadline."""

    def __init__(self, client: Client, model_queue: str, identity: str, meter: MetricMeter) -> None:
        self.client = client
        self.backoffs = meter.create_counter(
            MODEL_BACKOFFS, "fleet-wide pauses of model requests this worker set after a 429"
        )
        self.queue = model_queue
        self.identity = identity
        self.closed_until = 0.0  # what this worker last set (or saw)
        self._lift: asyncio.TimerHandle | None = None

    async def close_for(self, seconds: float) -> None:
        """No model task is dispatched to any worker for `seconds` from now."""
        until = time.time() + seconds
        if until <= self.closed_until:
            return  # closed long enough already (another 429 of the same storm)
        self.closed_until = until
        await self._set(0.0, _REASON.format(until=until))
        self.backoffs.add(1)
        log.warning("model requests paused fleet-wide", queue=self.queue, seconds=seconds)
        loop = asyncio.get_running_loop()
        if self._lift is not None:
            self._lift.cancel()
        self._lift = loop.call_later(seconds, lambda: loop.create_task(self.reopen_if_due()))

    async def reopen_if_due(self) -> None:
        """Remove the back-off if its deadline passed (a later one stays)."""
        with contextlib.suppress(Exception):  # the next check retries
            until = await self._closed_until()
            if until is not None and until <= time.time():
                await self._set(None, "durable-assistants: back-off over")
                log.info("model requests resumed", queue=self.queue)

    async def keep(self) -> None:
        """Every `GATE_CHECK_SECONDS`: reopen a back-off whose setter did not."""
        while True:
            await asyncio.sleep(GATE_CHECK_SECONDS)
            await self.reopen_if_due()

    async def _closed_until(self) -> float | None:
        described = await self.client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=self.client.namespace,
                task_queue=TaskQueue(name=self.queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
                report_config=True,
            )
        )
        reason = described.config.queue_rate_limit.metadata.reason
        found = _DEADLINE.match(reason)
        return float(found[1]) if found else None

    async def _set(self, rate: float | None, reason: str) -> None:
        update = UpdateTaskQueueConfigRequest.RateLimitUpdate(reason=reason)
        if rate is not None:  # no rate: the limit is removed (the workers' one applies)
            update.rate_limit.CopyFrom(RateLimit(requests_per_second=rate))
        await self.client.workflow_service.update_task_queue_config(
            UpdateTaskQueueConfigRequest(
                namespace=self.client.namespace,
                identity=self.identity,
                task_queue=self.queue,
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
                update_queue_rate_limit=update,
            )
        )


def rate_limited_for(error: BaseException) -> float | None:
    """Seconds the fleet pauses its model requests for `error`: a 429's `retry-after`, when
    it is at least `SHORTEST_FLEET_BACKOFF_SECONDS`; None otherwise."""
    if not isinstance(error, ApplicationError) or error.next_retry_delay is None:
        return None
    if not isinstance(error.__cause__, openai.RateLimitError):
        return None
    seconds = error.next_retry_delay.total_seconds()
    return seconds if seconds >= SHORTEST_FLEET_BACKOFF_SECONDS else None


class FleetBackoff(Interceptor):
    """On the model queue's worker: a model request answered 429 with `retry-after` closes
    the gate before the activity's failure is reported (its own retry waits as long)."""

    def __init__(self, gate: ModelGate) -> None:
        self.gate = gate

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _FleetBackoffInbound(next, self.gate)


class _FleetBackoffInbound(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, gate: ModelGate) -> None:
        super().__init__(next)
        self.gate = gate

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            return await self.next.execute_activity(input)
        except ApplicationError as err:
            seconds = rate_limited_for(err)
            if seconds:
                try:
                    await self.gate.close_for(seconds)
                except Exception as failed:  # the activity's own retry still waits
                    activity.logger.warning("could not pause model requests: %s", failed)
            raise
