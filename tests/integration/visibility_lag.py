"""A Temporal client whose visibility index lags: executions that closed within the last
`seconds` are not listed yet (what Elasticsearch or a loaded server shows for a while), so a
test can pin what must not depend on the index."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from temporalio.client import (
    Client,
    Interceptor,
    ListWorkflowsInput,
    OutboundInterceptor,
    WorkflowExecutionAsyncIterator,
)


def lagging(client: Client, seconds: float) -> Client:
    config = client.config()
    config["interceptors"] = [*config["interceptors"], _Lag(timedelta(seconds=seconds))]
    return Client(**config)


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
