"""The run's progress log, kept by the workflow (deterministic: rebuilt on every replay)."""

from __future__ import annotations

from pydantic import Field

from workflows.common import Record, RunPhase, ToolCall, ToolCallResult, Usage
from workflows.run.contracts import ApprovalDecision
from workflows.run.outcome import CodeInterpreterCall, RunMessage, RunResult
from workflows.run.progress import (
    ApprovalDecided,
    ApprovalRequested,
    CodeInterpreterRan,
    PhaseChanged,
    ProgressBatch,
    ProgressEvent,
    ProgressPage,
    ProgressRequest,
    RunEnded,
    TextDelta,
    TextDone,
    ToolFinished,
    ToolStarted,
    UsageReported,
)

TOOL_OUTPUT_CHARS = 4_000
PAGE_CHARS = 500_000
"""About how much text one page carries (a query's answer must stay well under 4 MB)."""
CARRIED_EVENTS = 200
CARRIED_CHARS = 100_000
"""The last events a run continued as new keeps (followers a little behind read on)."""


class ProgressCarry(Record):
    """The log as continue-as-new carries it: where its offsets are, and its last events."""

    next_offset: int
    events: list[ProgressEvent] = Field(default_factory=list)
    last_phase: tuple[RunPhase, str] | None = None
    last_usage: Usage | None = None


class ProgressLog:
    """Events in the order they happened; text chunks de-duplicated per message."""

    def __init__(self, carried: ProgressCarry | None = None) -> None:
        self.events: list[ProgressEvent] = list(carried.events) if carried else []
        self.base = carried.next_offset - len(self.events) if carried else 0
        """The offset of `events[0]`: a run continued as new keeps only its last events."""
        self.streamed: dict[str, list[str]] = {}  # text published so far, per message
        self.last_sequence: dict[str, int] = {}
        self.done: set[str] = set()
        self.finished_calls: set[str] = set()
        self.last_phase: tuple[RunPhase, str] | None = carried.last_phase if carried else None
        self.last_usage: Usage | None = carried.last_usage if carried else None
        self.ended = False

    def phase(self, phase: RunPhase, details: str) -> None:
        if (phase, details) != self.last_phase:
            self.last_phase = (phase, details)
            self._append(PhaseChanged(phase=phase, details=details))

    def publish(self, batch: ProgressBatch) -> None:
        """Text chunks from an activity: each chunk once, in its message's order; a chunk
        already seen (a retried activity reading the stream again) or late (its message is
        done) is dropped. Consecutive chunks of one message become one event."""
        batch_start = self.base + len(self.events)
        for chunk in batch.chunks:
            message_id = chunk.message_id
            if self.ended or message_id in self.done:
                continue
            if chunk.sequence <= self.last_sequence.get(message_id, -1):
                continue
            self.last_sequence[message_id] = chunk.sequence
            if chunk.delta:
                self._add_text(message_id, chunk.delta, merge_from=batch_start)

    def message_done(self, message: RunMessage) -> None:
        """A message has ended: deliver what its stream did not (all of it if nothing was
        streamed), then its whole text."""
        if message.role != "assistant" or message.id in self.done:
            return
        streamed = "".join(self.streamed.get(message.id, []))
        if message.text.startswith(streamed) and len(message.text) > len(streamed):
            self._add_text(message.id, message.text[len(streamed) :])
        self.done.add(message.id)
        self.streamed.pop(message.id, None)
        self._append(TextDone(message_id=message.id, text=message.text))

    def tool_started(self, call: ToolCall) -> None:
        self._append(ToolStarted(call_id=call.id, name=call.name, arguments=call.arguments))

    def tool_finished(self, result: ToolCallResult) -> None:
        if result.id in self.finished_calls:
            return
        self.finished_calls.add(result.id)
        self._append(
            ToolFinished(
                call_id=result.id,
                name=result.name,
                output=result.output[:TOOL_OUTPUT_CHARS],
                error=result.error,
                attempts=result.attempts,
                duration_seconds=result.duration_seconds,
            )
        )

    def code_ran(self, call: CodeInterpreterCall) -> None:
        if call.id in self.finished_calls:
            return
        self.finished_calls.add(call.id)
        self._append(
            CodeInterpreterRan(
                call_id=call.id,
                code=call.code[:TOOL_OUTPUT_CHARS],
                logs=call.logs[:TOOL_OUTPUT_CHARS],
                image_file_ids=call.image_file_ids,
            )
        )

    def approval_requested(self, call: ToolCall) -> None:
        self._append(ApprovalRequested(call_id=call.id, name=call.name, arguments=call.arguments))

    def approval_decided(self, decision: ApprovalDecision, timed_out: bool) -> None:
        self._append(
            ApprovalDecided(
                call_id=decision.call_id,
                approved=decision.approved,
                reason=decision.reason,
                timed_out=timed_out,
            )
        )

    def usage(self, usage: Usage) -> None:
        if usage != self.last_usage and usage.total_tokens:
            self.last_usage = usage
            self._append(UsageReported(usage=usage))

    def run_ended(self, result: RunResult) -> None:
        self._end(RunEnded(status=result.status, result=result))

    def run_failed(self, error: str) -> None:
        self._end(RunEnded(status="failed", error=error))

    def carry(self) -> ProgressCarry:
        """The log for the run's next execution: its last events, within CARRIED_CHARS."""
        kept: list[ProgressEvent] = []
        size = 0
        for event in reversed(self.events[-CARRIED_EVENTS:]):
            size += _size(event)
            if kept and size > CARRIED_CHARS:
                break
            kept.insert(0, event)
        return ProgressCarry(
            next_offset=self.base + len(self.events),
            events=kept,
            last_phase=self.last_phase,
            last_usage=self.last_usage,
        )

    def page(self, request: ProgressRequest) -> ProgressPage:
        """Events from `request.from_offset` on (from the first kept, for a follower further
        behind than what a run continued as new kept)."""
        start = min(max(request.from_offset - self.base, 0), len(self.events))
        events: list[ProgressEvent] = []
        size = read = 0
        for event in self.events[start : start + request.max_events]:
            if isinstance(event, CodeInterpreterRan) and not request.code_interpreter:
                read += 1  # a follower that does not know the event skips it
                continue
            size += _size(event)
            if events and size > PAGE_CHARS:
                break
            events.append(event)
            read += 1
        next_offset = self.base + start + read
        return ProgressPage(
            events=events,
            next_offset=next_offset,
            ended=self.ended and next_offset >= self.base + len(self.events),
        )

    def _add_text(self, message_id: str, delta: str, merge_from: int | None = None) -> None:
        """Append a delta; one that continues a delta of the same batch (`merge_from`: the
        batch's first offset, which no query can have read yet) is joined to it."""
        self.streamed.setdefault(message_id, []).append(delta)
        last = self.events[-1] if self.events else None
        mergeable = merge_from is not None and last is not None and last.offset >= merge_from
        if mergeable and isinstance(last, TextDelta) and last.message_id == message_id:
            last.delta += delta
        else:
            self._append(TextDelta(message_id=message_id, delta=delta))

    def _end(self, event: RunEnded) -> None:
        if not self.ended:
            self._append(event)
            self.ended = True

    def _append(self, event: ProgressEvent) -> None:
        event.offset = self.base + len(self.events)
        self.events.append(event)


def _size(event: ProgressEvent) -> int:
    if isinstance(event, TextDelta):
        return len(event.delta)
    if isinstance(event, TextDone):
        return len(event.text)
    if isinstance(event, ToolStarted):
        return len(event.arguments)
    if isinstance(event, ToolFinished):
        return len(event.output)
    if isinstance(event, RunEnded) and event.result is not None:
        return len(event.result.output_text) * 2
    return 100
