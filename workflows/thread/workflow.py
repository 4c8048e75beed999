"""AssistantThread: one workflow per conversation (`thread-{key}`) that owns an API thread
and answers its messages one run at a time, each run a child `AssistantRun`.

Serialising runs here is what removes "thread already has an active run" at its root.
"""

from __future__ import annotations

from collections import deque
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from temporalio import workflow
from temporalio.exceptions import ApplicationError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from workflows.common import RunError
    from workflows.run.contracts import RunRequest, RunResult
    from workflows.run.workflow import AssistantRun
    from workflows.search_attributes import OPENAI_THREAD_ID
    from workflows.thread.contracts import (
        CloseThread,
        QueuedMessage,
        RunSummary,
        ThreadCarry,
        ThreadConfig,
        ThreadMessage,
        ThreadState,
    )
    from workflows.thread.steps import DELETE_THREAD


@workflow.defn(name="AssistantThread", failure_exception_types=[ValidationError])
class AssistantThread:
    """One conversation: its API thread, and its messages answered one run at a time."""

    @workflow.init
    def __init__(self, config: ThreadConfig) -> None:
        carried = config.carried
        self.config = config
        self.thread_id = carried.thread_id if carried else config.thread_id
        self.queue: deque[QueuedMessage] = deque(carried.queue if carried else [])
        self.next_message_id = carried.next_message_id if carried else 1
        self.runs_done = carried.runs_done if carried else 0
        self.recent: list[RunSummary] = list(carried.recent) if carried else []
        self.answers: dict[int, RunResult] = {}
        self.current_run: str | None = None
        self.closing = False
        self.delete_thread = config.delete_thread_when_done

    @workflow.run
    async def run(self, config: ThreadConfig) -> ThreadState:
        self._publish_thread_id()
        runs_this_execution = 0
        while await self._next_message_or_idle():
            if self._time_to_continue(runs_this_execution):
                await workflow.wait_condition(
                    lambda: workflow.all_handlers_finished() or self._caller_waiting()
                )
                if not self._caller_waiting():
                    workflow.continue_as_new(self._carry())
            await self._answer(self.queue[0])
            self.queue.popleft()
            runs_this_execution += 1
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self.delete_thread and self.thread_id:
            await workflow.execute_activity(
                DELETE_THREAD.name,
                self.thread_id,
                result_type=DELETE_THREAD.result,
                start_to_close_timeout=timedelta(minutes=1),
                summary="delete the API thread",
            )
        return self.state()

    @workflow.update
    async def send_message(self, message: ThreadMessage) -> RunResult:
        """Queue a message; returns the result of the run that answers it."""
        queued = self._enqueue(message, answered_by_update=True)
        await workflow.wait_condition(lambda: queued.id in self.answers)
        return self.answers.pop(queued.id)

    @send_message.validator
    def _check_message(self, message: ThreadMessage) -> None:
        if self.closing:
            raise ApplicationError(f"thread {self.config.key} is closing", type="ThreadClosing")
        self._run_request(message)

    @workflow.signal
    def post_message(self, message: ThreadMessage) -> None:
        """Queue a message without waiting for the answer."""
        if self.closing:
            workflow.logger.warning("message posted to a closing thread dropped")
            return
        self._enqueue(message, answered_by_update=False)

    @workflow.update
    async def cancel_current_run(self) -> str | None:
        """Cancel the run in progress (its message is answered `cancelled`); its workflow id."""
        current = self.current_run
        if current is not None:
            await workflow.get_external_workflow_handle(current).cancel()
        return current

    @workflow.update
    def close(self, request: CloseThread) -> ThreadState:
        """Answer what is queued, then end."""
        self.closing = True
        if request.delete_thread is not None:
            self.delete_thread = request.delete_thread
        return self.state()

    @workflow.query
    def state(self) -> ThreadState:
        return ThreadState(
            key=self.config.key,
            thread_id=self.thread_id,
            queue_length=len(self.queue),
            current_run=self.current_run,
            runs_done=self.runs_done,
            recent=self.recent,
            closing=self.closing,
        )

    async def _next_message_or_idle(self) -> bool:
        """True when there is a message to answer; False once closed or idle for too long
        with nothing queued (from then on new messages are refused)."""
        try:
            await workflow.wait_condition(
                lambda: bool(self.queue) or self.closing,
                timeout=self.config.idle_timeout_seconds,
            )
        except TimeoutError:
            self.closing = True
        return bool(self.queue)

    async def _answer(self, queued: QueuedMessage) -> None:
        workflow_id = f"{workflow.info().workflow_id}/run-{self.runs_done + 1}"
        self.current_run = workflow_id
        workflow.set_current_details(f"answering message {queued.id} with {workflow_id}")
        try:
            result = await workflow.execute_child_workflow(
                AssistantRun.run, self._run_request(queued.message), id=workflow_id
            )
        except ChildWorkflowError as err:
            result = _failed(err, self.thread_id)
        self.runs_done += 1
        self.current_run = None
        if result.thread_id and result.thread_id != self.thread_id:
            self.thread_id = result.thread_id
            self._publish_thread_id()
        self._remember(queued, workflow_id, result)
        if queued.answered_by_update:
            self.answers[queued.id] = result

    def _publish_thread_id(self) -> None:
        """OpenAIThreadId on an open thread workflow is what protects it from Cleanup."""
        if self.thread_id:
            workflow.upsert_search_attributes([OPENAI_THREAD_ID.value_set(self.thread_id)])

    def _run_request(self, message: ThreadMessage) -> RunRequest:
        config = self.config
        fields: dict[str, Any] = {
            **config.defaults,
            **message.overrides,
            "assistant_id": config.assistant_id,
            "assistant": config.assistant,
            "thread_id": self.thread_id,
            "on_active_run": "wait",
            "messages": [message.model_dump(include={"content", "attachments", "metadata"})],
        }
        return RunRequest.model_validate(fields)

    def _enqueue(self, message: ThreadMessage, answered_by_update: bool) -> QueuedMessage:
        queued = QueuedMessage(
            id=self.next_message_id, message=message, answered_by_update=answered_by_update
        )
        self.next_message_id += 1
        self.queue.append(queued)
        return queued

    def _remember(self, queued: QueuedMessage, workflow_id: str, result: RunResult) -> None:
        summary = RunSummary(
            message_id=queued.id,
            workflow_id=workflow_id,
            run_id=result.run_id,
            status=result.status,
            output_text=result.output_text[:500],
        )
        keep = self.config.recent_results
        self.recent = [*self.recent, summary][-keep:] if keep else []

    def _time_to_continue(self, runs_this_execution: int) -> bool:
        """Continue as new when history is large, once no caller waits on a queued message
        (their updates must finish here); messages posted by signal are carried over."""
        due = (
            workflow.info().is_continue_as_new_suggested()
            or runs_this_execution >= self.config.runs_before_continue_as_new
        )
        return due and not self._caller_waiting()

    def _caller_waiting(self) -> bool:
        return any(queued.answered_by_update for queued in self.queue)

    def _carry(self) -> ThreadConfig:
        carry = ThreadCarry(
            thread_id=self.thread_id,
            queue=list(self.queue),
            next_message_id=self.next_message_id,
            runs_done=self.runs_done,
            recent=self.recent,
        )
        return self.config.model_copy(
            update={"carried": carry, "delete_thread_when_done": self.delete_thread}
        )


def _failed(err: ChildWorkflowError, thread_id: str | None) -> RunResult:
    """A run whose workflow failed (bad input, a non-retryable API error) answers `failed`."""
    cause = err.cause
    message = cause.message if isinstance(cause, ApplicationError) else str(err)
    return RunResult(
        status="failed",
        thread_id=thread_id,
        run_id=None,
        assistant_id=None,
        last_error=RunError(code="run_workflow_failed", message=message),
    )
