"""Temporal clients whose visibility index lags, so a test can pin what must not depend on
it: `lagging` does not list executions that closed within the last `seconds` yet;
`blind_to_marks` counts no open workflow by the search attributes it upserted (what
Elasticsearch or a loaded server shows for a while after an upsert)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from temporalio.client import (
    Client,
    CountWorkflowsInput,
    Interceptor,
    ListWorkflowsInput,
    OutboundInterceptor,
    WorkflowExecutionAsyncIterator,
    WorkflowExecutionCount,
)


def lagging(client: Client, seconds: float) -> Client:
    return _with(client, _Lag(timedelta(seconds=seconds)))


def blind_to_marks(client: Client) -> Client:
    return _with(client, _BlindToMarks())


def _with(client: Client, interceptor: Interceptor) -> Client:
    config = client.config()
    config["interceptors"] = [*config["interceptors"], interceptor]
    return Client(**config)


class _BlindToMarks(Interceptor):
    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        class Blind(OutboundInterceptor):
            async def count_workflows(self, input: CountWorkflowsInput) -> WorkflowExecutionCount:
                if 'ExecutionStatus = "Running"' in (input.query or ""):
                    return WorkflowExecutionCount(count=0, groups=[])
                return await super().count_workflows(input)

        return Blind(next)


class _Lag(Interceptor):
    def __init__(self, lag: timedelta) -> None:
        self.lag = lag

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        lag = self.lag

        class Lagging(OutboundInterceptor):
            def list_workflows(self, input: ListWorkflowsInput) -> WorkflowExecutionAsyncIterator:
                listed = super().list_workflows(input)
                return _LaggingExecutions(listed._client, input, lag)

        return Lagging(next)


class _LaggingExecutions(WorkflowExecutionAsyncIterator):
    def __init__(self, client: Client, input: ListWorkflowsInput, lag: timedelta) -> None:
        super().__init__(client, input)
        self.lag = lag

    async def fetch_next_page(self, *, page_size: int | None = None) -> None:
        await super().fetch_next_page(page_size=page_size)
        since = datetime.now(UTC) - self.lag
        self._current_page = [
            execution
            for execution in self._current_page or []
            if execution.close_time is None or execution.close_time < since
        ]
