"""The worker's own metrics, besides those workflows record (`workflows.run.metrics`): the
OpenAI API's errors and retried requests, seen by an activity interceptor, and how many
conversations are open, counted in Temporal's visibility store."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx2 as httpx
import openai
import structlog
from temporalio import activity
from temporalio.client import Client
from temporalio.common import MetricMeter
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from workflows.run.metrics import API_ERRORS, API_RETRIES, CONVERSATIONS_OPEN, METRIC_NAMES
from workflows.run.steps import DESCRIBE_TOOLS

__all__ = ["METRIC_NAMES", "ApiMetrics", "count_open_conversations"]
log = structlog.get_logger(__name__)
OPEN_CONVERSATIONS = "WorkflowType = 'AssistantThread' AND ExecutionStatus = 'Running'"


class ApiMetrics(Interceptor):
    """Counts the attempts of API activities that failed on an API error (by status code)
    and the attempts that retry one. Tool activities are counted by their runs instead."""

    def __init__(self, meter: MetricMeter) -> None:
        self.errors = meter.create_counter(API_ERRORS, "failed API requests by status code")
        self.retries = meter.create_counter(API_RETRIES, "API activity attempts after the first")

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ApiMetricsInbound(next, self)


class _ApiMetricsInbound(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, metrics: ApiMetrics) -> None:
        super().__init__(next)
        self.metrics = metrics

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        if not _calls_the_api(info.activity_type):
            return await self.next.execute_activity(input)
        operation = {"operation": info.activity_type}
        if info.attempt > 1:
            self.metrics.retries.add(1, operation)
        try:
            return await self.next.execute_activity(input)
        except Exception as err:
            if (status := api_error_status(err)) is not None:
                self.metrics.errors.add(1, {**operation, "status_code": status})
            raise


def _calls_the_api(activity_type: str) -> bool:
    return not activity_type.startswith("tool.") and activity_type != DESCRIBE_TOOLS


def api_error_status(err: BaseException) -> str | None:
    """The HTTP status (or `connection`, `timeout`, `stream`) of the OpenAI API error behind
    `err`, or None when it was not the API's."""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, openai.APIStatusError):
            return str(seen.status_code)
        if isinstance(seen, openai.APITimeoutError | httpx.TimeoutException):
            return "timeout"
        if isinstance(seen, openai.APIConnectionError | httpx.TransportError):
            return "connection"
        if isinstance(seen, openai.APIError):
            return "stream"
        seen = seen.__cause__
    return None


async def count_open_conversations(
    client: Client, meter: MetricMeter, interval_seconds: float = 30.0
) -> None:
    """Set the open-conversations gauge from visibility every `interval_seconds`, until
    cancelled. Every worker reports the same fleet-wide number (dashboards take the max)."""
    gauge = meter.create_gauge(CONVERSATIONS_OPEN, "conversations whose workflow is running")
    while True:
        try:
            count = await client.count_workflows(OPEN_CONVERSATIONS)
            gauge.set(count.count)
        except Exception as err:  # a visibility outage must not stop the worker
            log.warning("cannot count open conversations", error=str(err))
        await asyncio.sleep(interval_seconds)
