"""Token-aware pacing (`MODEL_TOKENS_PER_MINUTE`): before a run's first model request, wait
while the model's fleet-wide tokens of the current window are spent; after each model turn,
add what it used. The tally lives in one `TokenWindow` workflow per model, so every worker sees
the same; asking costs a query (no history), adding a signal to that workflow only.

Pacing is best effort by design: a run admitted while another's turn is still running can
spend past the budget (a window's spend is only known once turns end), a retried activity may
add a turn twice (erring towards waiting), and when Temporal cannot answer the run is
admitted rather than stalled.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import structlog
from temporalio import activity
from temporalio.client import Client, WorkflowHandle, WorkflowQueryFailedError
from temporalio.common import MetricMeter, WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from workflows.common import Usage
from workflows.pacing import (
    SPENT_SIGNAL,
    TOKEN_WINDOW,
    WINDOW_QUERY,
    TokensSpent,
    TokenWindowInput,
    WindowState,
    token_window_id,
)
from workflows.run.metrics import PACING_WAIT

log = structlog.get_logger(__name__)
POLL_SECONDS = 1.0
WAITING = "waiting for the {model} token budget: {seconds:.1f}s until the next window"


class TokenPacer:
    def __init__(
        self,
        client: Client,
        budgets: dict[str, int],
        window_seconds: float,
        task_queue: str,
        meter: MetricMeter,
    ) -> None:
        self.client = client
        self.waits = meter.create_histogram_timedelta(
            PACING_WAIT, "how long runs waited for their model's token budget, by model"
        )
        self.budgets = budgets
        self.window_seconds = window_seconds
        self.task_queue = task_queue

    async def admit(self, model: str | None) -> float:
        """Return once `model` has tokens left in its window (at once when it has no budget);
        the seconds waited. Heartbeats while it waits, so a cancel ends the wait."""
        budget = self.budgets.get(model) if model else None
        if model is None or budget is None:
            return 0.0
        began = time.monotonic()
        if (wait := await self._seconds_until_admitted(model, budget)) <= 0:
            return 0.0
        while wait > 0:
            activity.heartbeat(WAITING.format(model=model, seconds=wait))
            await asyncio.sleep(min(wait, POLL_SECONDS))
            wait = await self._seconds_until_admitted(model, budget)
        waited = time.monotonic() - began
        self.waits.record(timedelta(seconds=waited), {"model": model})
        return waited

    async def spent(self, model: str | None, usage: Usage | None) -> None:
        """Add a model turn's tokens to its window."""
        if model is None or usage is None or model not in self.budgets or not usage.total_tokens:
            return
        try:
            await self.client.start_workflow(
                TOKEN_WINDOW,
                TokenWindowInput(window_seconds=self.window_seconds),
                id=token_window_id(model),
                task_queue=self.task_queue,
                start_signal=SPENT_SIGNAL,
                start_signal_args=[TokensSpent(tokens=usage.total_tokens)],
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
        except RPCError as err:
            log.warning("cannot add tokens to the pacing window", model=model, error=str(err))

    async def _seconds_until_admitted(self, model: str, budget: int) -> float:
        handle: WorkflowHandle[object, None] = self.client.get_workflow_handle(
            token_window_id(model)
        )
        try:
            state = await handle.query(WINDOW_QUERY, result_type=WindowState)
        except (RPCError, WorkflowQueryFailedError) as err:
            if not isinstance(err, RPCError) or err.status != RPCStatusCode.NOT_FOUND:
                log.warning("cannot read the pacing window", model=model, error=str(err))
            return 0.0
        ends = state.started_at + timedelta(seconds=state.window_seconds)
        left = ends.timestamp() - time.time()
        return left if state.spent >= budget and left > 0 else 0.0
