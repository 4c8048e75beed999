"""AssistantRun: one assistant run, from its messages to a terminal status, durably.

    creating -> (queued -> in_progress ->) requires_action -> running_tools
             -> submitting_outputs -> ... -> completed | failed | cancelled | expired | incomplete
    any phase --cancel update, workflow cancellation or deadline--> cancelling -> terminal

Every API call is an activity of the configured backend (see `workflows.run.steps`); each one
returns only when the run needs tool outputs or has ended, so history grows with transitions.
A run that fails for a transient reason is started again (`max_run_attempts`, then on the
`fallback_models`); only the run of the current attempt is ever followed, reported or
cancelled. Between turns a run that reached `max_total_tokens` or `max_tool_rounds` ends
`incomplete` (`workflows.run.budgets`).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError
from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.common import (
        TERMINAL_PHASES,
        Backend,
        RunPhase,
        Step,
        ToolCallResult,
        call_api,
        call_api_locally,
        choose_backend,
    )
    from workflows.run import steps
    from workflows.run.approvals import Approvals
    from workflows.run.budgets import ModelChoice, budget_spent, limit_reached, model_not_found
    from workflows.run.carry import RunCarry
    from workflows.run.contracts import (
        RUN_TARGET,
        WORKFLOW_OPTIONS,
        ApprovalDecision,
        CancelRequest,
        RunRequest,
        SubmitToolOutputsRequest,
        refused_by,
    )
    from workflows.run.downloads import download_files
    from workflows.run.failures import (
        active_run_of,
        active_run_refused,
        failure_text,
        raise_failure,
    )
    from workflows.run.metrics import RunMetrics
    from workflows.run.outcome import RunResult, RunState
    from workflows.run.progress import (
        PROGRESS_QUERY,
        PUBLISH_SIGNAL,
        ProgressBatch,
        ProgressPage,
        ProgressRequest,
    )
    from workflows.run.progress_log import ProgressCarry, ProgressLog
    from workflows.run.record import RunRecord
    from workflows.run.snapshots import (
        describe,
        expired_calls,
        seconds_until_expiry,
        transient_failure,
    )
    from workflows.run.steps import RunSnapshot, ToolCatalog
    from workflows.run.tool_calls import (
        ExternalToolOutputs,
        check_tool_names,
        describe_tools,
        may_outlast,
        run_tool_calls,
        submissions,
    )
    from workflows.run.visibility import RunVisibility
    from workflows.search_attributes import tenant

A = TypeVar("A")
R = TypeVar("R")
RECORD = TypeAdapter(RunRecord)


@workflow.defn(name="AssistantRun", failure_exception_types=[ValidationError])
class AssistantRun:
    """One assistant run, driven from its messages to a terminal status."""

    @workflow.init
    def __init__(self, request: RunRequest) -> None:
        self.request = request
        carried = RunCarry.model_validate(request.carried) if request.carried else None
        self.carried = carried  # where the run's last execution left it
        self.continuing: RunCarry | None = None  # where this one leaves it for the next
        self.phase = RunPhase.requires_action if carried else RunPhase.creating
        self.record = (
            RECORD.validate_python(carried.record)
            if carried
            else RunRecord(thread_id=request.thread_id, assistant_id=request.assistant_id)
        )
        self.tenant = tenant()  # what the run makes is the tenant's, if the gateway started it
        self.external = ExternalToolOutputs()
        self.stop_reason: str | None = None
        self.deadline_passed = False
        catalog = carried.catalog if carried else None
        self.catalog = ToolCatalog.model_validate(catalog) if catalog else None
        self.backend: Backend = carried.backend if carried else "assistants"
        # the thread (responses: response) the run began on
        self.continues_from: str | None = carried.continues_from if carried else None
        self.started_at = carried.started_at if carried else workflow.info().start_time
        self.log = ProgressLog(ProgressCarry.model_validate(carried.progress) if carried else None)
        self.metrics = RunMetrics(self.started_at)
        self.models = ModelChoice(request, carried.fallbacks_used if carried else 0)
        self.shown = RunVisibility(request.summary(), self.log)
        self.shown.published = dict(carried.published) if carried else {}
        self.approvals = Approvals(
            request.approval_required_for,
            request.approval_timeout_seconds,
            self.log,
            on_change=self._approvals_changed,
        )

    @workflow.run
    async def run(self, request: RunRequest) -> RunResult:
        driver = asyncio.create_task(self._drive())
        try:
            await workflow.wait_condition(
                lambda: driver.done() or self.stop_reason is not None,
                timeout=self._deadline_left(),
                timeout_summary="deadline",
            )
        except TimeoutError:
            self._stop_at_deadline()
        except asyncio.CancelledError:
            self.stop_reason = self.stop_reason or "the workflow was cancelled"
        if self.stop_reason is None and self.continuing is not None:
            await workflow.wait_condition(
                lambda: workflow.all_handlers_finished() or self.stop_reason is not None
            )
            if self.stop_reason is None:
                carried = self.continuing.model_dump(mode="json")
                workflow.continue_as_new(self.request.model_copy(update={"carried": carried}))
        if self.stop_reason is None:
            if (error := driver.exception()) is not None:
                await self._end_failed(failure_text(error))
            raise_failure(driver)
        else:  # even if the driver has just finished: a requested stop always gets its answer
            await self._stop(driver)
            if self.phase in (RunPhase.cancelled, RunPhase.expired):
                self._describe(self.stop_reason or "stopped")
        await workflow.wait_condition(workflow.all_handlers_finished)
        result = self.record.result(self.phase, self.stop_reason)
        self.log.run_ended(result)
        self._count_end(self.phase)
        return result

    @workflow.query
    def state(self) -> RunState:
        state = self.record.state(self.phase)
        state.pending_approvals = list(self.approvals.pending.values())
        return state

    @workflow.update
    def decide_approval(self, decision: ApprovalDecision) -> RunState:
        """Approve or deny a tool call that waits for a person."""
        self.approvals.decide(decision)
        return self.state()

    @decide_approval.validator
    def _check_approval(self, decision: ApprovalDecision) -> None:
        if self.phase in TERMINAL_PHASES:
            raise ValueError(f"the run already ended: {self.phase.value}")
        self.approvals.validate(decision)

    @workflow.query(name=PROGRESS_QUERY)
    def progress(self, request: ProgressRequest | None = None) -> ProgressPage:
        """Live progress: the run's events from an offset on (see `workflows.run.progress`)."""
        return self.log.page(request or ProgressRequest())

    @workflow.signal(name=PUBLISH_SIGNAL)
    def publish_progress(self, batch: ProgressBatch) -> None:
        """Text chunks from the activity following the model's stream."""
        self.log.publish(batch)

    @workflow.update
    async def cancel(self, request: CancelRequest | None = None) -> RunState:
        """Cancel the run at the API; returns once it is terminal (with the status that won)."""
        self.stop_reason = self.stop_reason or (request or CancelRequest()).reason
        await workflow.wait_condition(lambda: self.phase in TERMINAL_PHASES)
        return self.state()

    @cancel.validator
    def _check_cancel(self, request: CancelRequest | None = None) -> None:
        if self.phase in TERMINAL_PHASES:
            raise ValueError(f"the run already ended: {self.phase.value}")

    @workflow.update
    def submit_tool_outputs(self, request: SubmitToolOutputsRequest) -> None:
        """Outputs of external tools the run is waiting for."""
        self.external.submit(request)

    @submit_tool_outputs.validator
    def _check_tool_outputs(self, request: SubmitToolOutputsRequest) -> None:
        self.external.validate(request)

    async def _drive(self) -> None:
        carried = self.carried
        if carried is None:
            await self._prepare()
        for attempt in range(carried.attempt if carried else 1, self.models.attempts + 1):
            self.record.run_attempts = attempt
            waiting = RunSnapshot.model_validate(carried.waiting) if carried else None
            snapshot = waiting or await self._start(attempt)
            carried = None
            while snapshot.status == RunPhase.requires_action:
                usage, rounds = self.record.usage(), self.record.tool_rounds
                if (limit := limit_reached(self.request, usage, rounds)) is not None:
                    return await self._end_at_limit(snapshot, limit)
                if self._history_full():  # between rounds: nothing is in flight
                    self.continuing = self._carry(attempt, snapshot)
                    return None
                snapshot = await self._answer_tool_calls(snapshot)
            if self.record.latest is not None:  # ended for good; a transient failure leaves none
                return await self._download_files()
        return None

    def _history_full(self) -> bool:
        """Temporal suggests continuing as new (the history passed its count or size): a run
        of many rounds goes on in a new execution, whatever its length."""
        return workflow.info().is_continue_as_new_suggested()

    def _carry(self, attempt: int, waiting: RunSnapshot) -> RunCarry:
        """What the next execution goes on from, its parts as the JSON they are sent as."""
        catalog = self.catalog.model_dump(mode="json") if self.catalog else None
        return RunCarry.model_validate(
            {
                "started_at": self.started_at,
                "attempt": attempt,
                "waiting": waiting.model_dump(mode="json"),
                "record": RECORD.dump_python(self.record, mode="json"),
                "backend": self.backend,
                "continues_from": self.continues_from,
                "catalog": catalog,
                "fallbacks_used": self.models.used,
                "published": self.shown.published,
                "progress": self.log.carry().model_dump(mode="json"),
            }
        )

    async def _prepare(self) -> None:
        """What the run needs before its first attempt: its backend, its assistant (on the
        assistants backend), its thread, its vector stores ready."""
        request = self.request
        if request.thread_id and workflow.info().parent is None:
            self.shown.hold(request.thread_id)
        self.backend = await choose_backend(request.backend)
        if (refused := refused_by(self.backend, request)) is not None:
            raise ApplicationError(refused, type="InvalidRunRequest", non_retryable=True)
        on_assistants = self.backend == "assistants"
        if on_assistants:  # before anything is created (a responses start checks)
            await self._check_tool_names()
        if request.assistant is not None and on_assistants:
            ensure = steps.EnsureAssistant(spec=request.assistant, tenant=self.tenant)
            summary = f"ensure assistant {request.assistant.name!r}"
            self.record.assistant_id = await self._call(steps.ENSURE_ASSISTANT, ensure, summary)
        if self.record.thread_id is None and on_assistants:
            self._enter(RunPhase.creating, "creating a thread")
            create = steps.CreateThread(tenant=self.tenant)
            self.record.thread_id = await self._create_thread(create)
        if request.vector_store_ready_seconds is not None:
            self._enter(RunPhase.creating, "waiting for vector stores to finish indexing")
            wait = steps.WaitForVectorStores(
                backend=self.backend,
                assistant_id=self.record.assistant_id or "",
                thread_id=self.record.thread_id,
                vector_store_ids=request.assistant.vector_store_ids() if request.assistant else [],
                timeout_seconds=request.vector_store_ready_seconds,
            )
            await self._call(steps.WAIT_FOR_VECTOR_STORES, wait, "wait for vector stores")
        self.continues_from = self.record.thread_id

    async def _download_files(self) -> None:
        """Fetch the files the model generated into `download_to`, if the run asks."""
        directory, files = self.request.download_to, self.record.files
        if directory is None or not files:
            return
        self._describe(f"downloading {len(files)} generated files to {directory}")
        await download_files(files, directory, self._call)

    async def _start(self, attempt: int) -> RunSnapshot:
        """Create the run with the new messages and follow it. On a retried attempt the
        messages are already on the thread; on the responses backend a failed response is
        not continued: the attempt starts again from where the run began."""
        request = self.request
        on_assistants = self.backend == "assistants"
        while True:
            start = steps.StartRun(
                backend=self.backend,
                idempotency_key=self._idempotency_key(attempt),
                assistant_id=self.record.assistant_id or "",
                assistant=request.assistant,
                prompt=request.prompt,
                thread_id=self.record.thread_id if on_assistants else self.continues_from,
                messages=request.messages if attempt == 1 or not on_assistants else [],
                stream=request.stream,
                overrides=self._overrides(),
                named_tools=[] if on_assistants else request.tool_names(),
                with_tool_catalog=self.catalog is None,
                tenant=self.tenant,
            )
            self._enter(RunPhase.creating, "creating the run and waiting for the model")
            try:
                return self._record(await self._call(steps.START_RUN, start, "start run"))
            except ActivityError as err:
                missing = self.models.after_missing_model() if model_not_found(err) else None
                if missing is not None:  # nothing was created: the same attempt goes on
                    self.record.tried(missing or None)
                    continue
                await self._resolve_conflict(active_run_of(err), err)

    def _overrides(self) -> dict[str, Any]:
        """The API run's parameters; the fallback's model once the run's own failed."""
        overrides = self.request.model_dump(
            exclude=set(RUN_TARGET | WORKFLOW_OPTIONS), exclude_none=True
        )
        if self.models.override is not None:
            overrides["model"] = self.models.override
        return overrides

    async def _resolve_conflict(self, active_run: str | None, err: ActivityError) -> None:
        """The thread has another active run: wait for it, cancel it, or fail, per policy."""
        policy = self.request.on_active_run
        if active_run is None or self.record.thread_id is None:
            raise err
        if policy == "fail":
            raise active_run_refused(self.record.thread_id, active_run)
        self._enter(RunPhase.creating, f"{policy}: thread busy with {active_run}")
        other = steps.RunRef(thread_id=self.record.thread_id, run_id=active_run)
        if policy == "cancel":
            cancel = steps.CancelRun(
                backend=self.backend,
                thread_id=other.thread_id,
                run_id=active_run,
                idempotency_key="",
            )
            await self._call(steps.CANCEL_RUN, cancel, f"cancel {active_run}")
        else:
            wait = steps.WaitForRun(backend=self.backend, run=other, until_terminal=True)
            await self._call(steps.WAIT_FOR_RUN, wait, f"wait for {active_run} to end")

    async def _answer_tool_calls(self, snapshot: RunSnapshot) -> RunSnapshot:
        names = ", ".join(call.name for call in snapshot.tool_calls)
        self._enter(RunPhase.running_tools, f"running tools: {names}")
        catalog = await self._catalog()
        self._stop_if_requested()
        for call in snapshot.tool_calls:
            self.log.tool_started(call)
        try:
            results = await asyncio.wait_for(
                run_tool_calls(
                    snapshot.tool_calls,
                    catalog,
                    self.external,
                    self._tool_finished,
                    self.approvals,
                ),
                timeout=self._round_timeout(snapshot, catalog),
            )
        except TimeoutError:
            return await self._expire(snapshot)
        if seconds_until_expiry(snapshot, workflow.now()) == 0.0:
            return await self._expire(snapshot)  # late: a call waited long for a worker
        self.record.add_tool_calls(results)
        self.record.tool_rounds += 1  # before the submit's answer: it may close the attempt
        self._enter(RunPhase.submitting_outputs, f"submitting {len(results)} tool outputs")
        submit = steps.SubmitToolOutputs(
            backend=self.backend,
            run=snapshot.ref,
            tool_outputs=submissions(results),
            stream=self.request.stream,
        )
        return self._record(await self._call(steps.SUBMIT_TOOL_OUTPUTS, submit, names))

    def _round_timeout(self, snapshot: RunSnapshot, catalog: ToolCatalog) -> float | None:
        """How long a round of tool calls may take before the run expires; None (no timer)
        when its calls cannot run that long anyway."""
        seconds = seconds_until_expiry(snapshot, workflow.now())
        if not may_outlast(snapshot.tool_calls, catalog, self.approvals, seconds):
            return None
        return seconds

    async def _expire(self, snapshot: RunSnapshot) -> RunSnapshot:
        """The run expired while its tools ran: their outputs can no longer be submitted."""
        expired = expired_calls(snapshot)
        for result in expired:
            self._tool_finished(result)
        self.record.add_tool_calls(expired)
        wait = steps.WaitForRun(backend=self.backend, run=snapshot.ref, until_terminal=True)
        return self._record(await self._call(steps.WAIT_FOR_RUN, wait, "run expired"))

    async def _end_at_limit(self, waiting: RunSnapshot, limit: dict[str, Any]) -> None:
        """End a run that reached a limit while it waits for tool outputs: its API run is
        cancelled (a response waiting for outputs has nothing in flight: it is simply not
        continued), and it ends `incomplete`, `limit` saying why."""
        self._enter(RunPhase.cancelling, str(limit["message"]))
        ended = waiting
        if self.backend == "assistants":
            cancel = steps.CancelRun(
                backend=self.backend,
                thread_id=waiting.thread_id,
                run_id=waiting.run_id,
                idempotency_key=self._idempotency_key(self.record.run_attempts),
            )
            ended = await self._call(steps.CANCEL_RUN, cancel, f"cancel: {limit['reason']}")
        if ended.status in (RunPhase.requires_action, RunPhase.cancelled):
            update = {"status": RunPhase.incomplete, "tool_calls": [], "incomplete_details": limit}
            ended = ended.model_copy(update=update)
        self._record(ended)

    async def _stop(self, driver: asyncio.Task[None]) -> None:
        """Stop driving the run, cancel it at the API, and record how it really ended."""
        reason = self.stop_reason or "cancelling"
        self._enter(RunPhase.cancelling, reason)
        driver.cancel()
        with contextlib.suppress(asyncio.CancelledError, ActivityError, ApplicationError):
            await driver
        latest = self.record.latest
        if latest is not None and latest.status in TERMINAL_PHASES:
            self._enter(self._ended(latest.status), f"run ended {latest.status}")
            return
        if self.record.run_attempts == 0:  # stopped before any run was asked for
            self._enter(self._ended(RunPhase.cancelled), "stopped before a run was created")
            return
        if self.phase != RunPhase.cancelling:  # the driver recorded a step that just finished
            self._enter(RunPhase.cancelling, reason)
        cancel = steps.CancelRun(
            backend=self.backend,
            thread_id=self.record.thread_id,
            run_id=latest.run_id if latest else None,
            idempotency_key=self._idempotency_key(self.record.run_attempts),
        )
        ended = await self._api(steps.CANCEL_RUN, cancel, "cancel the run")
        if transient_failure(ended, self.record.run_attempts, self._attempts_allowed(ended)):
            self.record.close_attempt(ended)  # the attempt a stop prevents is not the answer
            self._enter(self._ended(RunPhase.cancelled), f"stopped after {describe(ended)}")
            return
        self._record(ended)

    async def _end_failed(self, error: str) -> None:
        """The run failed as a workflow: it is `failed` from here on (a cancel sent while it
        cleans up is answered so), and every update it took is answered before it fails."""
        self.phase = RunPhase.failed
        self._describe(error[:300])
        await self._delete_thread_made_for_nothing()
        self.log.run_failed(error)
        self._count_end(RunPhase.failed)
        await workflow.wait_condition(workflow.all_handlers_finished)

    async def _delete_thread_made_for_nothing(self) -> None:
        """A run that fails leaves no thread it created for itself behind (whoever asked
        for the run never learns its id)."""
        thread_id = self.record.thread_id
        if self.request.thread_id is not None or thread_id is None:
            return
        with contextlib.suppress(ActivityError):
            await self._api(steps.DELETE_THREAD, thread_id, "delete the thread made for it")

    def _record(self, snapshot: RunSnapshot) -> RunSnapshot:
        """What the latest step says of the run. A run failed for a transient reason is
        closed off (it will be started again), so it never shows as the run's end."""
        if snapshot.tool_catalog is not None:  # the tools of its calls, once per run
            self.catalog = snapshot.tool_catalog
            snapshot = snapshot.model_copy(update={"tool_catalog": None})
        if transient_failure(snapshot, self.record.run_attempts, self._attempts_allowed(snapshot)):
            self.record.close_attempt(snapshot)
            self.models.after_failure(snapshot)
            self._enter(RunPhase.creating, f"starting again after {describe(snapshot)}")
            return snapshot
        self.record.update(snapshot)
        for call in snapshot.code_interpreter_calls:
            self.log.code_ran(call)
        for message in snapshot.messages:
            self.log.message_done(message)
        self.log.usage(self.record.usage())
        self._enter(self._ended(snapshot.status), describe(snapshot))
        return snapshot

    def _attempts_allowed(self, latest: RunSnapshot) -> int:
        """How many attempts the run may make; none more once its token budget is spent."""
        if budget_spent(self.request, self.record.usage_with(latest)):
            return self.record.run_attempts
        return self.models.attempts

    def _ended(self, status: RunPhase) -> RunPhase:
        """A run cancelled because the caller's deadline passed has expired."""
        return RunPhase.expired if status == RunPhase.cancelled and self.deadline_passed else status

    def _enter(self, phase: RunPhase, details: str) -> None:
        self.phase = phase
        self.metrics.enter(phase)
        self.shown.enter(phase, self.record, details)

    def _tool_finished(self, result: ToolCallResult) -> None:
        self.log.tool_finished(result)
        self.metrics.tool_finished(result)

    def _count_end(self, status: RunPhase) -> None:
        record = self.record
        self.metrics.ended(status, self.backend, record.model, record.usage(), record.cost())

    def _approvals_changed(self) -> None:
        """A call began or stopped waiting for approval: the phase says whether any waits."""
        if waiting := self.approvals.pending.values():
            names = ", ".join(f"{call.name}({call.arguments})" for call in waiting)
            self._enter(RunPhase.awaiting_approval, f"waiting for approval: {names}"[:300])
        elif self.phase == RunPhase.awaiting_approval:
            self._enter(RunPhase.running_tools, "running the approved tools")

    def _describe(self, details: str) -> None:
        self.shown.describe(self.phase, details)

    async def _create_thread(self, create: steps.CreateThread) -> str:
        self._stop_if_requested()
        return await call_api_locally(
            steps.CREATE_THREAD,
            create,
            self.request.timeouts,
            "create a thread",
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )

    async def _call(self, step: Step[A, R], argument: A, summary: str) -> R:
        """A step of the driver, which ends where a stop was requested."""
        self._stop_if_requested()
        return await self._api(step, argument, summary)

    async def _api(self, step: Step[A, R], argument: A, summary: str) -> R:
        # model requests go through the model queue, whose rate limit holds fleet-wide (the
        # queue is not part of the command's match on replay: histories replay either way)
        routed = step.name in steps.MODEL_STEPS
        queue = {"task_queue": steps.model_queue(workflow.info().task_queue)} if routed else {}
        return await call_api(
            step,
            argument,
            self.request.timeouts,
            summary,
            # a start interrupted by a cancel must finish its request before we look it up
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            **queue,
        )

    def _stop_if_requested(self) -> None:
        """A stop that lands as a step finishes can be swallowed by the finished activity's
        await, so the driver also checks before every step it starts."""
        if self.stop_reason is None and self._past_deadline():
            self._stop_at_deadline()
        if self.stop_reason is not None:
            raise asyncio.CancelledError(self.stop_reason)

    def _past_deadline(self) -> bool:
        """The deadline's timer starts when the first workflow task completes, which waits
        for its local activities (the thread on the assistants backend): with a slow API it
        fires late, so a step about to begin checks the workflow's clock too."""
        deadline = self.request.deadline_seconds
        if deadline is None:
            return False
        elapsed = (workflow.now() - self.started_at).total_seconds()
        return elapsed >= deadline

    def _deadline_left(self) -> float | None:
        """Seconds to the deadline, counted from the run's start (its first execution's)."""
        deadline = self.request.deadline_seconds
        if deadline is None or self.carried is None:
            return deadline
        elapsed = (workflow.now() - self.started_at).total_seconds()
        return max(deadline - elapsed, 0.001)

    def _stop_at_deadline(self) -> None:
        self.deadline_passed = True
        self.stop_reason = f"deadline of {self.request.deadline_seconds:g}s passed"

    def _idempotency_key(self, attempt: int) -> str:
        """Unique to this execution and attempt: finds the run an interrupted start made."""
        return f"{workflow.info().run_id}:{attempt}"

    async def _check_tool_names(self) -> None:
        if named := self.request.tool_names():
            check_tool_names(named, await self._catalog())

    async def _catalog(self) -> ToolCatalog:
        if self.catalog is None:
            self._stop_if_requested()
            self.catalog = await describe_tools()
        return self.catalog
