"""What a run has come to so far; the `state` query and the result are views of it."""

from __future__ import annotations

from dataclasses import dataclass, field

from workflows.common import TERMINAL_PHASES, RunPhase, ToolCallResult, Usage
from workflows.run.outcome import (
    CodeInterpreterCall,
    GeneratedFile,
    RunMessage,
    RunResult,
    RunState,
)
from workflows.run.steps import RunSnapshot
from workflows.run.tool_calls import bounded


@dataclass
class RunRecord:
    """The ids found so far, the current attempt's run (`latest`: an attempt's run that failed
    for a transient reason is closed off, its usage kept), and the tool calls made."""

    thread_id: str | None
    assistant_id: str | None
    thread_root: str | None = None  # responses: the chain's first response
    latest: RunSnapshot | None = None
    earlier_usage: Usage = field(default_factory=Usage)  # of runs (responses) no longer latest
    tool_calls: list[ToolCallResult] = field(default_factory=list)
    tool_calls_omitted: int = 0
    run_attempts: int = 0
    messages: list[RunMessage] = field(default_factory=list)
    earlier_cost: float | None = 0.0  # of the runs in `earlier_usage`; None: a price unknown
    models_tried: list[str] = field(default_factory=list)
    tool_rounds: int = 0  # answered in the current attempt
    code_interpreter_calls: list[CodeInterpreterCall] = field(default_factory=list)
    files: list[GeneratedFile] = field(default_factory=list)

    @property
    def searched_thread(self) -> str | None:
        """What `OpenAIThreadId` holds: the thread, or on responses the chain's first
        response (the same for every run of a conversation)."""
        return self.thread_root or self.thread_id

    @property
    def run_id(self) -> str | None:
        return self.latest.run_id if self.latest else None

    def update(self, snapshot: RunSnapshot) -> None:
        """The run as the latest step found it. On the responses backend each round is a
        response of its own: their messages and usage add up."""
        if self.latest is not None and self.latest.run_id != snapshot.run_id:
            self.earlier_usage += self.latest.usage or Usage()  # a round's response, done
            self.earlier_cost = add_costs(self.earlier_cost, self.latest.cost_usd)
        self.latest = snapshot
        self.tried(snapshot.model)
        self.thread_id = snapshot.thread_id or self.thread_id
        self.thread_root = snapshot.thread_root or self.thread_root
        known = {message.id for message in self.messages}
        self.messages += [m for m in snapshot.messages if m.id not in known]
        calls = {call.id for call in self.code_interpreter_calls}
        self.code_interpreter_calls += [
            c for c in snapshot.code_interpreter_calls if c.id not in calls
        ]
        files = {file.file_id for file in self.files}
        self.files += [f for f in snapshot.files if f.file_id not in files]

    def close_attempt(self, snapshot: RunSnapshot) -> None:
        """The attempt's run failed and will be started again: it is no longer the run."""
        self.earlier_usage += snapshot.usage or Usage()
        self.earlier_cost = add_costs(self.earlier_cost, snapshot.cost_usd)
        self.tried(snapshot.model)
        self.latest = None
        self.messages = []
        self.tool_rounds = 0
        self.code_interpreter_calls = []
        self.files = []

    def tried(self, model: str | None) -> None:
        if model is not None and model not in self.models_tried:
            self.models_tried.append(model)

    def add_tool_calls(self, results: list[ToolCallResult]) -> None:
        self.tool_calls, dropped = bounded([*self.tool_calls, *results])
        self.tool_calls_omitted += dropped

    def usage(self) -> Usage:
        current = self.latest.usage if self.latest and self.latest.usage else Usage()
        return self.earlier_usage + current

    def usage_with(self, snapshot: RunSnapshot) -> Usage:
        """The usage once `snapshot` is recorded too (closed off or as the latest)."""
        earlier = self.earlier_usage
        if self.latest is not None and self.latest.run_id != snapshot.run_id:
            earlier += self.latest.usage or Usage()
        return earlier + (snapshot.usage or Usage())

    def cost(self) -> float | None:
        """The estimated cost of `usage()` in USD; None when a model used has no price."""
        return add_costs(self.earlier_cost, self.latest.cost_usd if self.latest else 0.0)

    @property
    def model(self) -> str | None:
        """The model of the current attempt's run (else of the last one tried)."""
        if self.latest is not None and self.latest.model is not None:
            return self.latest.model
        return self.models_tried[-1] if self.models_tried else None

    def state(self, phase: RunPhase) -> RunState:
        latest = self.latest
        pending = latest.tool_calls if latest and phase == RunPhase.running_tools else []
        return RunState(
            phase=phase,
            thread_id=self.thread_id,
            run_id=self.run_id,
            assistant_id=self.assistant_id,
            pending_tool_calls=pending,
            tool_calls=self.tool_calls,
            usage=self.usage(),
            expires_at=latest.expires_at if latest else None,
            run_attempts=self.run_attempts,
            model=self.model,
            cost_usd=self.cost(),
            tool_rounds=self.tool_rounds,
        )

    def result(self, phase: RunPhase, cancel_reason: str | None) -> RunResult:
        latest = self.latest
        status = phase if phase in TERMINAL_PHASES else RunPhase.cancelled
        messages = self.messages
        return RunResult(
            status=status.value,
            thread_id=self.thread_id,
            run_id=self.run_id,
            assistant_id=self.assistant_id,
            messages=messages,
            output_text="\n\n".join(m.text for m in messages if m.role == "assistant"),
            tool_calls=self.tool_calls,
            tool_calls_omitted=self.tool_calls_omitted,
            usage=self.usage(),
            last_error=latest.last_error if latest else None,
            incomplete_details=latest.incomplete_details if latest else None,
            run_attempts=self.run_attempts,
            created_at=latest.created_at if latest else None,
            completed_at=latest.completed_at if latest else None,
            cancel_reason=cancel_reason,
            model=self.model,
            models_tried=self.models_tried,
            cost_usd=self.cost(),
            tool_rounds=self.tool_rounds,
            code_interpreter_calls=self.code_interpreter_calls,
            files=self.files,
            thread_root=self.thread_root,
        )


def add_costs(one: float | None, other: float | None) -> float | None:
    """A sum of estimated costs: unknown if either is."""
    return None if one is None or other is None else round(one + other, 9)
