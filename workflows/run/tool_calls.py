"""Executing one round of the model's tool calls inside a workflow.

Every call ends with an output the model can read: the tool's result, or an error output for an
unknown tool, a tool that failed after its retries or timed out, or an external tool whose output
did not arrive in time. Calls of one round run in parallel.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, RetryState
from temporalio.exceptions import TimeoutError as ActivityTimeoutError

from workflows.common import ToolCall, ToolCallResult, ToolOutput, ToolOutputSubmission, tool_error
from workflows.run.approvals import Approvals
from workflows.run.contracts import ApprovalDecision, SubmitToolOutputsRequest
from workflows.run.steps import DESCRIBE_TOOLS, ToolCatalog, ToolSpec


class ExternalToolOutputs:
    """Outputs of external tools, delivered by the `submit_tool_outputs` update."""

    def __init__(self) -> None:
        self.pending: dict[str, ToolCall] = {}
        self.received: dict[str, str] = {}

    def validate(self, request: SubmitToolOutputsRequest) -> None:
        """Reject the update (nothing recorded) unless every output answers a pending call."""
        unknown = [
            o.tool_call_id for o in request.tool_outputs if o.tool_call_id not in self.pending
        ]
        if unknown:
            waiting = ", ".join(self.pending) or "none"
            raise ValueError(
                f"tool_outputs: no pending external tool call {', '.join(unknown)} "
                f"(waiting for: {waiting})"
            )

    def submit(self, request: SubmitToolOutputsRequest) -> None:
        for submission in request.tool_outputs:
            self.received[submission.tool_call_id] = submission.output

    async def wait_for(self, call: ToolCall, spec: ToolSpec) -> ToolOutput:
        self.pending[call.id] = call
        try:
            await workflow.wait_condition(
                lambda: call.id in self.received, timeout=spec.external_timeout_seconds
            )
        except TimeoutError:
            return tool_error(
                "external_timeout",
                f"no output for external tool {spec.name} within "
                f"{spec.external_timeout_seconds:g}s",
            )
        finally:
            self.pending.pop(call.id, None)
        return ToolOutput(output=self.received.pop(call.id))


async def describe_tools() -> ToolCatalog:
    """The worker's tools, recorded in history so replays see the same catalog."""
    catalog: ToolCatalog = await workflow.execute_activity(
        DESCRIBE_TOOLS,
        result_type=ToolCatalog,
        start_to_close_timeout=timedelta(seconds=30),
        summary="list the registered tools",
    )
    return catalog


FULL_TOOL_CALLS = 20
KEPT_TOOL_CALLS = 200
SUMMARY_CHARS = 200


def bounded(calls: list[ToolCallResult]) -> tuple[list[ToolCallResult], int]:
    """What a run keeps of its tool calls, so its result and state stay small however many
    rounds it makes: the last FULL_TOOL_CALLS whole, older ones with their arguments and
    output cut to SUMMARY_CHARS, at most KEPT_TOOL_CALLS; and how many older were dropped.
    (The whole outputs went to the model and are in the API's run steps.)"""
    dropped = max(0, len(calls) - KEPT_TOOL_CALLS)
    kept = calls[dropped:]
    older = len(kept) - FULL_TOOL_CALLS
    return [_summarised(c) if i < older else c for i, c in enumerate(kept)], dropped


def _summarised(call: ToolCallResult) -> ToolCallResult:
    if call.summarised:
        return call
    cut = {"arguments": call.arguments[:SUMMARY_CHARS], "output": call.output[:SUMMARY_CHARS]}
    return call.model_copy(update={**cut, "summarised": True})


def submissions(results: list[ToolCallResult]) -> list[ToolOutputSubmission]:
    """The outputs to submit for a round of tool calls."""
    return [ToolOutputSubmission(tool_call_id=r.id, output=r.output) for r in results]


def check_tool_names(named: list[tuple[str, str]], catalog: ToolCatalog) -> None:
    """Fail the run, before anything is created, if it names a tool no worker registered
    (`named`: (field, name) pairs, as `RunRequest.tool_names` lists them)."""
    for field, name in named:
        if catalog.find(name) is None:
            known = ", ".join(t.name for t in catalog.tools) or "none"
            raise ApplicationError(
                f"{field}: no registered tool named {name!r} (registered: {known})",
                type="InvalidRunRequest",
                non_retryable=True,
            )


def may_outlast(
    calls: list[ToolCall], catalog: ToolCatalog, approvals: Approvals, seconds: float | None
) -> bool:
    """Whether a round of calls may still run after `seconds` (None: no limit): an external
    call or one that waits for approval waits on someone, one served on another task queue
    on that queue's workers; an activity at most for all its attempts' timeouts and the
    back-offs between them."""
    if seconds is None:
        return False
    return any(_longest(catalog.find(call.name), approvals) > seconds for call in calls)


def _longest(spec: ToolSpec | None, approvals: Approvals) -> float:
    if spec is None:
        return 0.0
    retry = spec.retry
    if spec.external or spec.task_queue or approvals.required(spec) or not retry.max_attempts:
        return math.inf
    backoffs = (
        min(
            retry.initial_interval_seconds * retry.backoff_coefficient**n,
            retry.maximum_interval_seconds,
        )
        for n in range(retry.max_attempts - 1)
    )
    return retry.max_attempts * spec.timeout_seconds + sum(backoffs)


async def run_tool_calls(
    calls: list[ToolCall],
    catalog: ToolCatalog,
    external: ExternalToolOutputs,
    on_finished: Callable[[ToolCallResult], None],
    approvals: Approvals | None = None,
) -> list[ToolCallResult]:
    """Run a round of tool calls in parallel; results in the order of `calls`, each also
    given to `on_finished` as soon as it is known."""

    async def run(call: ToolCall) -> ToolCallResult:
        result = await run_tool_call(call, catalog, external, approvals)
        on_finished(result)
        return result

    return list(await asyncio.gather(*(run(call) for call in calls)))


async def run_tool_call(
    call: ToolCall,
    catalog: ToolCatalog,
    external: ExternalToolOutputs,
    approvals: Approvals | None = None,
) -> ToolCallResult:
    started = workflow.now()
    spec = catalog.find(call.name)
    denied = None
    if spec is not None and approvals is not None and approvals.required(spec):
        denied = _denial(spec, await approvals.wait_for(call))
    if spec is None:
        known = ", ".join(t.name for t in catalog.tools) or "none"
        outcome = tool_error("unknown_tool", f"no tool named {call.name!r} (tools: {known})")
    elif denied is not None:
        outcome = denied
    elif spec.external:
        outcome = await external.wait_for(call, spec)
    else:
        outcome = await _execute(call, spec)
    return ToolCallResult(
        id=call.id,
        name=call.name,
        arguments=call.arguments,
        output=outcome.output,
        error=outcome.error,
        attempts=outcome.attempt,
        duration_seconds=(workflow.now() - started).total_seconds(),
    )


async def _execute(call: ToolCall, spec: ToolSpec) -> ToolOutput:
    retry = spec.retry
    try:
        output: ToolOutput = await workflow.execute_activity(
            spec.activity_type,
            call,
            result_type=ToolOutput,
            task_queue=spec.task_queue,
            start_to_close_timeout=timedelta(seconds=spec.timeout_seconds),
            retry_policy=RetryPolicy(
                maximum_attempts=retry.max_attempts,
                initial_interval=timedelta(seconds=retry.initial_interval_seconds),
                backoff_coefficient=retry.backoff_coefficient,
                maximum_interval=timedelta(seconds=retry.maximum_interval_seconds),
            ),
            summary=f"{spec.name} {call.arguments}"[:200],
        )
        return output
    except ActivityError as err:
        if isinstance(err.cause, CancelledError):  # the round itself was cancelled
            raise asyncio.CancelledError from err
        return _failure(spec, err)


def _denial(spec: ToolSpec, decision: ApprovalDecision) -> ToolOutput | None:
    """What the model reads for a call a person did not approve; None if approved."""
    if decision.approved:
        return None
    because = f": {decision.reason}" if decision.reason else ""
    return tool_error("approval_denied", f"{spec.name} was not run: approval denied{because}")


def _failure(spec: ToolSpec, err: ActivityError) -> ToolOutput:
    attempts = _attempts(spec, err)
    if isinstance(err.cause, ActivityTimeoutError):
        output = tool_error(
            "tool_timeout", f"{spec.name} did not finish within {spec.timeout_seconds:g}s"
        )
    else:
        reason = err.cause.message if isinstance(err.cause, ApplicationError) else str(err)
        output = tool_error(
            "tool_failed", f"{spec.name} failed after {attempts} attempts: {reason}"
        )
    return output.model_copy(update={"attempt": attempts})


def _attempts(spec: ToolSpec, err: ActivityError) -> int:
    """How many attempts a failed tool call made: all of them when it ran out, else the
    attempt its (non-retryable) failure says it happened on."""
    if err.retry_state == RetryState.MAXIMUM_ATTEMPTS_REACHED:
        return spec.retry.max_attempts
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.details and isinstance(cause.details[0], int):
        return cause.details[0]
    return 1
