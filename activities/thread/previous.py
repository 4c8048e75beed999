"""What a conversation's last execution left behind, for the next one to carry on."""

from __future__ import annotations

from temporalio import activity
from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus

from activities.run.steps import RunSteps
from workflows.search_attributes import OPENAI_THREAD_ID
from workflows.thread.contracts import ThreadCarry, ThreadState
from workflows.thread.steps import FIND_PREVIOUS, FindPrevious

NOTHING = ThreadCarry(thread_id=None, queue=[], next_message_id=1, runs_done=0, recent=[])


class PreviousExecutions:
    """The conversation step that finds the API thread of the key's last execution."""

    def __init__(self, temporal: Client, steps: RunSteps) -> None:
        self.temporal = temporal
        self.steps = steps

    @activity.defn(name=FIND_PREVIOUS.name)
    async def find_previous(self, request: FindPrevious) -> ThreadCarry:
        """The last closed execution's thread and counts; its thread only if it still exists."""
        last = await self._last_closed(request.workflow_id)
        if last is None:
            return NOTHING
        state = await self._final_state(last)
        if state is None:  # failed or terminated: its search attribute still names the thread
            thread_id = last.typed_search_attributes.get(OPENAI_THREAD_ID)
            carry = NOTHING.model_copy(update={"thread_id": thread_id})
        else:
            thread_id = None if state.thread_deleted else state.thread_id
            carry = ThreadCarry(
                thread_id=thread_id,
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
            carry.thread_id = None  # deleted since (by a cleanup, say): start a new one
        return carry

    async def _last_closed(self, workflow_id: str) -> WorkflowExecution | None:
        query = f'WorkflowId = "{workflow_id}" AND ExecutionStatus != "Running"'
        last: WorkflowExecution | None = None
        async for execution in self.temporal.list_workflows(query):
            closed = execution.close_time
            if closed is not None and (last is None or closed > (last.close_time or closed)):
                last = execution
        return last

    async def _final_state(self, execution: WorkflowExecution) -> ThreadState | None:
        if execution.status != WorkflowExecutionStatus.COMPLETED:
            return None
        handle = self.temporal.get_workflow_handle(
            execution.id, run_id=execution.run_id, result_type=ThreadState
        )
        state: ThreadState = await handle.result(follow_runs=False)
        return state
