"""AssistantThread: one workflow per conversation (`thread-{key}`) that owns an API thread
and answers its messages one run at a time, each run a child `AssistantRun`.

Serialising runs here is what removes "thread already has an active run" at its root. The
conversation outlives each execution: continue-as-new carries it (after draining the callers
already waiting), and an execution started after an idle close takes over the API thread of
the key's last execution. Messages refused meanwhile (`ThreadClosing`, `ThreadContinuing`)
are to be sent again; `workers.client.send_message` does that.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import NoReturn, TypeVar

from pydantic import ValidationError
from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ApplicationError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from workflows.common import Step, choose_backend
    from workflows.run.contracts import RunRequest, refused_by
    from workflows.run.outcome import RunResult
    from workflows.run.record import add_costs
    from workflows.run.workflow import AssistantRun
    from workflows.search_attributes import OPENAI_THREAD_ID, TENANT, tenant
    from workflows.thread.answers import budget_used_up, failed_run, invalid_run, never_run
    from workflows.thread.contracts import (
        CloseThread,
        ConfigureThread,
        QueuedMessage,
        RunSummary,
        ThreadCarry,
        ThreadConfig,
        ThreadMessage,
        ThreadState,
    )
    from workflows.thread.queue import MessageQueue
    from workflows.thread.requests import run_request
    from workflows.thread.steps import DELETE_THREAD, FIND_PREVIOUS, FindPrevious

A = TypeVar("A")
R = TypeVar("R")
CLOSING = "ThreadClosing"
CONTINUING = "ThreadContinuing"
QUEUE_FULL = "ThreadQueueFull"
TOKEN_BUDGET_USED = "ThreadTokenBudgetUsed"


@workflow.defn(name="AssistantThread", failure_exception_types=[ValidationError])
class AssistantThread:
    """One conversation: its API thread, and its messages answered one run at a time."""

    @workflow.init
    def __init__(self, config: ThreadConfig) -> None:
        carried = config.carried
        self.config = config
        self.thread_id = carried.thread_id if carried else config.thread_id
        self.thread_root = carried.thread_root if carried else None
        self.searched_thread: str | None = None  # OpenAIThreadId as last upserted
        self.queue = MessageQueue(
            carried.queue if carried else [], carried.next_message_id if carried else 1
        )
        self.runs_done = carried.runs_done if carried else 0
        self.recent: list[RunSummary] = list(carried.recent) if carried else []
        self.answers: dict[int, RunResult] = {}
        self.current_run: str | None = None  # once its start is recorded
        self.run_starting = False
        self.closing = False
        self.draining = False
        self.runs_this_execution = 0
        self.delete_thread = config.delete_thread_when_done
        self.thread_deleted = False
        self.refused_messages = carried.refused_messages if carried else 0
        self.last_refused = carried.last_refused if carried else None
        self.tokens_used = carried.tokens_used if carried else 0
        self.cost_usd = carried.cost_usd if carried else 0.0
        self.runs_without_cost = carried.runs_without_cost if carried else 0

    @workflow.run
    async def run(self, config: ThreadConfig) -> ThreadState:
        backend = await choose_backend(config.backend)  # the conversation's, for all its runs
        self.config = self.config.model_copy(update={"backend": backend})
        if config.carried is None and config.thread_id is None:
            await self._take_over_previous_execution()
        self._publish_thread_id()
        workflow.set_current_details(f"{self.config.summary()}\n\n**waiting** for messages")
        conversation = asyncio.create_task(self._answer_until_closed())
        try:
            await asyncio.shield(conversation)
        except asyncio.CancelledError:
            await self._end_cancelled(conversation)
            raise
        return self.state()

    @workflow.update
    async def send_message(self, message: ThreadMessage) -> RunResult:
        """Queue a message; returns the result of the run that answers it."""
        queued = self.queue.add(message, answered_by_update=True)
        await workflow.wait_condition(lambda: queued.id in self.answers)
        return self.answers.pop(queued.id)

    @send_message.validator
    def _check_message(self, message: ThreadMessage) -> None:
        key = self.config.key
        if self.closing:
            raise ApplicationError(f"conversation {key} is closing: send again", type=CLOSING)
        if self.draining:
            raise ApplicationError(
                f"conversation {key} is continuing as new: send again", type=CONTINUING
            )
        if (full := self.queue.no_room_for(message)) is not None:
            raise ApplicationError(
                f"conversation {key}: {full}", type=QUEUE_FULL, non_retryable=True
            )
        if (used_up := self._budget_used_up()) is not None:
            raise ApplicationError(used_up, type=TOKEN_BUDGET_USED, non_retryable=True)
        self._run_request(message)  # refused with the field at fault named

    @workflow.signal
    def post_message(self, message: ThreadMessage) -> None:
        """Queue a message without waiting for the answer (answered even while closing). A
        message the queue has no room for, or that makes no valid run, is dropped, counted in
        `state` with its reason, and logged."""
        refused = self.queue.no_room_for(message) or self._budget_used_up()
        if refused is None:
            try:
                self._run_request(message)
            except ApplicationError as err:
                refused = err.message
        if refused is not None:
            self.refused_messages += 1
            self.last_refused = refused
            workflow.logger.warning("post_message dropped: %s", refused)
            return
        self.queue.add(message, answered_by_update=False)

    @workflow.update
    async def cancel_current_run(self) -> str | None:
        """Cancel the run in progress (its message is answered `cancelled`); its workflow id.
        A run being started is cancelled once it is: before, there is nothing to cancel."""
        if self.run_starting:
            await workflow.wait_condition(lambda: not self.run_starting)
        current = self.current_run
        if current is not None:
            await workflow.get_external_workflow_handle(current).cancel()
        return current

    @workflow.update
    def close(self, request: CloseThread | None = None) -> ThreadState:
        """Answer what is queued, then end."""
        self.closing = True
        if request is not None and request.delete_thread is not None:
            self.delete_thread = request.delete_thread
        return self.state()

    @workflow.update
    def configure(self, request: ConfigureThread) -> ThreadState:
        """Who answers the messages not yet started (and their run defaults)."""
        self.config = self._configured(request)
        return self.state()

    @configure.validator
    def _check_configure(self, request: ConfigureThread) -> None:
        configured = self._configured(request)
        probe = self._run_request(ThreadMessage(content="?"), configured)
        backend = configured.backend  # None only before the conversation chose it
        if backend is not None and (refused := refused_by(backend, probe)) is not None:
            raise ApplicationError(f"conversation {configured.key}: {refused}", non_retryable=True)

    def _configured(self, request: ConfigureThread) -> ThreadConfig:
        target = request.model_dump(include={"assistant_id", "assistant", "prompt"})
        defaults = self.config.defaults if request.defaults is None else request.defaults
        return ThreadConfig.model_validate(
            {**self.config.model_dump(), **target, "defaults": defaults}
        )

    @workflow.query
    def state(self) -> ThreadState:
        return ThreadState(
            key=self.config.key,
            thread_id=self.thread_id,
            thread_root=self.thread_root,
            queue_length=len(self.queue),
            current_run=self.current_run,
            runs_done=self.runs_done,
            recent=self.recent,
            closing=self.closing,
            thread_deleted=self.thread_deleted,
            refused_messages=self.refused_messages,
            last_refused=self.last_refused,
            assistant_id=self.config.assistant_id,
            assistant=self.config.assistant,
            prompt=self.config.prompt,
            backend=self.config.backend,
            tokens_used=self.tokens_used,
            token_budget=self.config.token_budget,
            tokens_left=self._tokens_left(),
            cost_usd=self.cost_usd,
            runs_without_cost=self.runs_without_cost,
        )

    def _tokens_left(self) -> int | None:
        """Of the conversation's token budget (0 when used up or overshot); None: no budget."""
        budget = self.config.token_budget
        return None if budget is None else max(budget - self.tokens_used, 0)

    def _budget_used_up(self) -> str | None:
        """Why no message may start a run: the token budget is used up; None: it may."""
        if self._tokens_left() != 0:
            return None
        return (
            f"conversation {self.config.key}: token budget used up ({self.tokens_used} of "
            f"token_budget {self.config.token_budget} tokens): no message is answered"
        )

    async def _answer_until_closed(self) -> None:
        """Answer messages in order until closed or idle; then the end-of-life chores, which
        go on answering what signals queue meanwhile."""
        while True:
            while await self._next_message_or_idle():
                await self._answer(self.queue.take())
                self.runs_this_execution += 1
                if self._time_to_continue():
                    await self._drain_and_continue()
            await workflow.wait_condition(workflow.all_handlers_finished)
            if self.queue:
                continue
            if not (self.delete_thread and self.thread_id) or self.thread_deleted:
                return
            await self._call(DELETE_THREAD, self.thread_id, "delete the API thread")
            self.thread_deleted = True

    async def _next_message_or_idle(self) -> bool:
        """True when there is a message to answer; False once closed or idle for too long
        with nothing queued (from then on `send_message` is refused: send again)."""
        try:
            await workflow.wait_condition(
                lambda: bool(self.queue) or self.closing,
                timeout=self.config.idle_timeout_seconds,
                timeout_summary="idle timeout",
            )
        except TimeoutError:
            self.closing = True
        return bool(self.queue)

    async def _drain_and_continue(self) -> NoReturn:
        """Continue as new without leaving a caller behind: refuse new `send_message`s (the
        callers send again, to the next execution), answer the ones already taken, then
        carry over what signals queued."""
        self.draining = True
        workflow.set_current_details("continuing as new: answering the callers waiting")
        while self.queue.callers_waiting():
            await self._answer(self.queue.take())
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(self._carry())

    async def _take_over_previous_execution(self) -> None:
        """A conversation closed on idle keeps its API thread: the key's last execution
        says which (unless it deleted it), and how many runs it made."""
        find = FindPrevious(
            workflow_id=workflow.info().workflow_id,
            backend=self.config.backend,
            previous_run_id=self.config.previous_run_id,
            tenant=tenant(),
        )
        previous = await self._call(FIND_PREVIOUS, find, "find this conversation's thread")
        self.thread_id = previous.thread_id
        self.thread_root = previous.thread_root
        self.runs_done = previous.runs_done
        self.recent = previous.recent
        self.tokens_used = (
            previous.tokens_used
        )  # a budget is the conversation's, not an execution's
        self.cost_usd = previous.cost_usd
        self.runs_without_cost = previous.runs_without_cost
        numbered = previous.next_message_id - 1
        self.queue.number_after(numbered)  # taken while looking: their numbers follow

    async def _end_cancelled(self, conversation: asyncio.Task[None]) -> None:
        """A cancelled conversation cancels its current run (whose caller gets that answer),
        answers the messages still queued `cancelled`, and keeps its thread."""
        self.closing, self.delete_thread = True, False
        for queued in self.queue.clear():
            if queued.answered_by_update:
                self.answers[queued.id] = never_run("the conversation was cancelled", None)
        conversation.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await conversation
        await workflow.wait_condition(workflow.all_handlers_finished)

    async def _call(self, step: Step[A, R], argument: A, summary: str) -> R:
        result: R = await workflow.execute_activity(
            step.name,
            argument,
            result_type=step.result,
            start_to_close_timeout=timedelta(minutes=1),
            summary=summary,
        )
        return result

    async def _answer(self, queued: QueuedMessage) -> None:
        if (used_up := self._budget_used_up()) is not None:  # queued before it was used up
            if queued.answered_by_update:
                self.answers[queued.id] = budget_used_up(used_up, self.thread_id)
            return
        try:  # a configure since it was queued may have made it invalid
            request = self._run_request(queued.message)
        except ApplicationError as refused:
            if queued.answered_by_update:
                self.answers[queued.id] = invalid_run(refused.message, self.thread_id)
            return
        workflow_id = f"{workflow.info().workflow_id}/run-{self.runs_done + 1}"
        self.run_starting = True
        asked = request.summary()
        workflow.set_current_details(
            f"{self.config.summary()}\n\n**answering** message {queued.id} with "
            f"{workflow_id}: {asked}"
        )
        try:
            run = await workflow.start_child_workflow(
                AssistantRun.run,
                request,
                id=workflow_id,
                static_summary=asked,
                # a closed, cancelled or terminated conversation cancels its run at the API
                parent_close_policy=workflow.ParentClosePolicy.REQUEST_CANCEL,
                search_attributes=_tenant_of_the_conversation(),
            )
            self.current_run, self.run_starting = workflow_id, False
            result = await run
        except ChildWorkflowError as err:
            result = failed_run(err, self.thread_id)
        self.runs_done += 1
        self.current_run, self.run_starting = None, False
        self._count_usage(result)
        if result.thread_id and result.thread_id != self.thread_id:
            self.thread_id, self.thread_deleted = result.thread_id, False
        self.thread_root = result.thread_root or self.thread_root
        self._publish_thread_id()
        self._remember(queued, workflow_id, result)
        if queued.answered_by_update:
            self.answers[queued.id] = result
        workflow.set_current_details(
            f"{self.config.summary()}\n\n**waiting** for messages: {self.runs_done} "
            f"answered, the last {result.status}"
        )

    def _count_usage(self, result: RunResult) -> None:
        self.tokens_used += result.usage.total_tokens
        if (cost := add_costs(self.cost_usd, result.cost_usd)) is not None:
            self.cost_usd = cost
        elif result.usage.total_tokens:
            self.runs_without_cost += 1

    def _publish_thread_id(self) -> None:
        """OpenAIThreadId on an open thread workflow is what protects it from Cleanup: the
        thread, or on responses the first response of its chain (the same all along, so it
        is upserted once, and no response of the chain is deleted while it is held)."""
        searched = self.thread_root or self.thread_id
        if searched and searched != self.searched_thread:
            workflow.upsert_search_attributes([OPENAI_THREAD_ID.value_set(searched)])
            self.searched_thread = searched

    def _run_request(
        self, message: ThreadMessage, config: ThreadConfig | None = None
    ) -> RunRequest:
        thread_id = None if self.thread_deleted else self.thread_id
        return run_request(config or self.config, message, thread_id, self._tokens_left())

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

    def _time_to_continue(self) -> bool:
        """Continue as new when history is large, or after so many runs."""
        return (
            workflow.info().is_continue_as_new_suggested()
            or self.runs_this_execution >= self.config.runs_before_continue_as_new
        )

    def _carry(self) -> ThreadConfig:
        carry = ThreadCarry(
            thread_id=self.thread_id,
            thread_root=self.thread_root,
            queue=list(self.queue),
            next_message_id=self.queue.next_id,
            runs_done=self.runs_done,
            recent=self.recent,
            refused_messages=self.refused_messages,
            last_refused=self.last_refused,
            tokens_used=self.tokens_used,
            cost_usd=self.cost_usd,
            runs_without_cost=self.runs_without_cost,
        )
        return self.config.model_copy(
            update={"carried": carry, "delete_thread_when_done": self.delete_thread}
        )


def _tenant_of_the_conversation() -> TypedSearchAttributes | None:
    """A conversation the HTTP gateway started is its tenant's: so are its runs (children
    do not inherit search attributes)."""
    owner = tenant()
    return TypedSearchAttributes([SearchAttributePair(TENANT, owner)]) if owner else None
