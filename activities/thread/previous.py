"""What a conversation's last execution left behind, for the next one to carry on."""

from __future__ import annotations

from datetime import datetime

from temporalio import activity
from temporalio.client import (
    Client,
    WorkflowExecution,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
)
from temporalio.service import RPCError, RPCStatusCode

from activities.run.steps import RunSteps
from workflows.search_attributes import TENANT
from workflows.thread.contracts import ThreadCarry, ThreadState
from workflows.thread.steps import FIND_PREVIOUS, FindPrevious
from workflows.thread.workflow import AssistantThread

NOTHING = ThreadCarry(thread_id=None, queue=[], next_message_id=1, runs_done=0, recent=[])
Execution = WorkflowExecution | WorkflowExecutionDescription


class PreviousExecutions:
    """The conversation step that finds the API thread of the key's last execution."""

    def __init__(self, temporal: Client, steps: RunSteps) -> None:
        self.temporal = temporal
        self.steps = steps

    @activity.defn(name=FIND_PREVIOUS.name)
    async def find_previous(self, request: FindPrevious) -> ThreadCarry:
        """The last closed execution's thread and counts; its thread only if it still exists.
        An execution of another tenant (or of none, for the gateway's) is not taken over."""
        last = await self._last_closed(request)
        if last is None or last.typed_search_attributes.get(TENANT) != request.tenant:
            return NOTHING
        state = await self._final_state(last)
        if state is None:
            return NOTHING
        thread_id = None if state.thread_deleted else state.thread_id
        carry = ThreadCarry(
            thread_id=thread_id,
            thread_root=state.thread_root if thread_id else None,
            queue=[],
            next_message_id=state.runs_done + 1,
            runs_done=state.runs_done,
            recent=state.recent,
            tokens_used=state.tokens_used,
            cost_usd=state.cost_usd,
            runs_without_cost=state.runs_without_cost,
        )
        backend = self.steps.backends[request.backend]
        if carry.thread_id is not None and not await backend.thread_exists(carry.thread_id):
            carry.thread_id = carry.thread_root = None  # deleted since (a cleanup): a new one
        return carry

    async def _last_closed(self, request: FindPrevious) -> Execution | None:
        """The execution the starter saw closed (looked up by its run id: strongly
        consistent), or a later one the visibility index has (which can lag behind)."""
        found: list[Execution] = []
        if request.previous_run_id is not None:
            handle = self.temporal.get_workflow_handle(
                request.workflow_id, run_id=request.previous_run_id
            )
            try:
                found.append(await handle.describe())
            except RPCError as err:
                if err.status != RPCStatusCode.NOT_FOUND:
                    raise
        query = f'WorkflowId = "{request.workflow_id}" AND ExecutionStatus != "Running"'
        found += [execution async for execution in self.temporal.list_workflows(query)]
        closed = [e for e in found if e.close_time is not None]
        return max(closed, key=_closed_at, default=None)

    async def _final_state(self, execution: Execution) -> ThreadState | None:
        """Its result, or for one that did not complete (failed, terminated) its state when
        it ended, read by a query (None if it cannot be read)."""
        handle = self.temporal.get_workflow_handle_for(
            AssistantThread.run, execution.id, run_id=execution.run_id
        )
        if execution.status == WorkflowExecutionStatus.COMPLETED:
            return await handle.result(follow_runs=False)
        try:
            return await handle.query(AssistantThread.state)
        except RPCError as err:
            activity.logger.warning("the state of %s cannot be read: %s", execution.id, err)
            return None


def _closed_at(execution: Execution) -> datetime:
    assert execution.close_time is not None
    return execution.close_time
