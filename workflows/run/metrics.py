"""A run's own metrics, recorded through the workflow's metric meter: nothing is recorded while
a worker replays history, so each run counts once whichever worker finishes it.

The names are a public API (deploy/grafana's dashboard is built on them); `METRIC_NAMES`
lists every one the project emits.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow

from workflows.common import RunPhase, ToolCallResult, Usage

RUNS = "durable_assistants_runs_total"
RUN_DURATION = "durable_assistants_run_duration_seconds"
RUN_WAIT = "durable_assistants_run_wait_seconds"
TOOL_CALLS = "durable_assistants_tool_calls_total"
TOOL_CALL_DURATION = "durable_assistants_tool_call_duration_seconds"
TOKENS = "durable_assistants_tokens_total"
API_ERRORS = "durable_assistants_api_errors_total"
API_RETRIES = "durable_assistants_api_retries_total"
CONVERSATIONS_OPEN = "durable_assistants_conversations_open"
COST = "durable_assistants_cost_microdollars_total"
MODEL_BACKOFFS = "durable_assistants_model_backoffs_total"
PACING_WAIT = "durable_assistants_pacing_wait_seconds"
"""Estimated cost in millionths of a USD (Temporal counters count integers)."""
METRIC_NAMES = frozenset(
    {
        RUNS,
        RUN_DURATION,
        RUN_WAIT,
        TOOL_CALLS,
        TOOL_CALL_DURATION,
        TOKENS,
        API_ERRORS,
        API_RETRIES,
        CONVERSATIONS_OPEN,
        COST,
        MODEL_BACKOFFS,
        PACING_WAIT,
    }
)
DURATION_BUCKETS_SECONDS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600]
"""Runs and tool calls take from milliseconds to an hour (approvals wait for people)."""

WAITING_FOR: dict[RunPhase, str] = {
    RunPhase.creating: "model",
    RunPhase.queued: "model",
    RunPhase.in_progress: "model",
    RunPhase.requires_action: "model",
    RunPhase.submitting_outputs: "model",
    RunPhase.running_tools: "tools",
    RunPhase.awaiting_approval: "approval",
}
"""What a run in each phase waits for; time cancelling is nobody's."""
APPROVAL_DENIED = "approval_denied"


class RunMetrics:
    """Time per phase, tool calls as they finish, and at the end the run's status, duration,
    waits and tokens."""

    def __init__(self, started: datetime) -> None:
        meter = workflow.metric_meter()
        self.runs = meter.create_counter(RUNS, "runs ended, by final status and backend")
        self.duration = meter.create_histogram_timedelta(
            RUN_DURATION, "from the workflow's start to the run's end"
        )
        self.wait = meter.create_histogram_timedelta(
            RUN_WAIT, "a run's total time waiting for the model, in tools, or for approval"
        )
        self.tool_calls = meter.create_counter(TOOL_CALLS, "tool calls by tool and outcome")
        self.tool_duration = meter.create_histogram_timedelta(
            TOOL_CALL_DURATION, "a tool call's time, all attempts and its approval included"
        )
        self.tokens = meter.create_counter(TOKENS, "tokens used, by model and kind")
        self.cost = meter.create_counter(
            COST, "estimated cost in millionths of a USD of the runs that ended, by model"
        )
        self.started = started  # the run's first execution's start
        self.phase_since = workflow.now()
        self.phase: RunPhase | None = None
        self.waits = {kind: timedelta() for kind in ("model", "tools", "approval")}

    def enter(self, phase: RunPhase) -> None:
        now = workflow.now()
        if self.phase is not None and self.phase in WAITING_FOR:
            self.waits[WAITING_FOR[self.phase]] += now - self.phase_since
        self.phase, self.phase_since = phase, now

    def tool_finished(self, result: ToolCallResult) -> None:
        outcome = "ok" if result.error is None else "error"
        if result.error == APPROVAL_DENIED:
            outcome = "denied"
        labels = {"tool": result.name, "outcome": outcome}
        self.tool_calls.add(1, labels)
        self.tool_duration.record(timedelta(seconds=result.duration_seconds), labels)

    def ended(
        self,
        status: RunPhase,
        backend: str,
        model: str | None,
        usage: Usage,
        cost_usd: float | None = None,
    ) -> None:
        self.enter(status)
        labels = {"status": status.value, "backend": backend}
        self.runs.add(1, labels)
        self.duration.record(workflow.now() - self.started, labels)
        for kind, waited in self.waits.items():
            self.wait.record(waited, {"waiting_for": kind, "backend": backend})
        model_label = model or "unknown"
        if usage.prompt_tokens:
            self.tokens.add(usage.prompt_tokens, {"model": model_label, "kind": "input"})
        if usage.completion_tokens:
            self.tokens.add(usage.completion_tokens, {"model": model_label, "kind": "output"})
        if cost_usd:  # unknown (no price) or nothing: not counted
            self.cost.add(round(cost_usd * 1_000_000), {"model": model_label})
