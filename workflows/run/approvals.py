"""Tool calls that wait for a person: approved, they run; denied or undecided in time, the
model gets an output saying so (never a crashed run)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from temporalio import workflow

from workflows.common import ToolCall
from workflows.run.contracts import ApprovalDecision
from workflows.run.progress_log import ProgressLog
from workflows.run.steps import ToolSpec


class Approvals:
    """Decisions on the calls of tools that require approval (the tool's registration or the
    run's `approval_required_for`), delivered by the `decide_approval` update."""

    def __init__(
        self,
        required_for: list[str],
        timeout_seconds: float,
        log: ProgressLog,
        on_change: Callable[[], None],
    ) -> None:
        self.required_for = set(required_for)
        self.timeout_seconds = timeout_seconds
        self.log = log
        self.on_change = on_change
        self.pending: dict[str, ToolCall] = {}
        self.decided: dict[str, ApprovalDecision] = {}

    def required(self, spec: ToolSpec) -> bool:
        return spec.requires_approval or spec.name in self.required_for

    def validate(self, decision: ApprovalDecision) -> None:
        """Refuse (nothing recorded) a decision on a call that does not wait for one."""
        call_id = decision.call_id
        if (earlier := self.decided.get(call_id)) is not None:
            how = "approved" if earlier.approved else "denied"
            raise ValueError(f"call_id: tool call {call_id} was already {how}")
        if call_id not in self.pending:
            waiting = ", ".join(self.pending) or "none"
            raise ValueError(
                f"call_id: no tool call {call_id} waits for approval in this run "
                f"(waiting: {waiting})"
            )

    def decide(self, decision: ApprovalDecision) -> None:
        self.decided[decision.call_id] = decision
        self.pending.pop(decision.call_id, None)

    async def wait_for(self, call: ToolCall) -> ApprovalDecision:
        """The decision on `call`; a denial if none came within the timeout."""
        self.pending[call.id] = call
        self.log.approval_requested(call)
        self.on_change()
        timed_out = False
        try:
            await workflow.wait_condition(
                lambda: call.id in self.decided,
                timeout=self.timeout_seconds,
                timeout_summary=f"approval of {call.name}",
            )
        except TimeoutError:
            # a decision accepted in the activation the timer fired in stands
            if call.id not in self.decided:
                timed_out = True
                reason = f"no decision within {self.timeout_seconds:g}s"
                self.decide(ApprovalDecision(call_id=call.id, approved=False, reason=reason))
        except asyncio.CancelledError:
            self._stop_waiting(call)
            raise
        # not in a `finally`: a worker evicting the run closes this coroutine outside the
        # workflow's event loop, where no workflow call may be made
        self._stop_waiting(call)
        decision = self.decided[call.id]
        self.log.approval_decided(decision, timed_out)
        return decision

    def _stop_waiting(self, call: ToolCall) -> None:
        self.pending.pop(call.id, None)
        self.on_change()
