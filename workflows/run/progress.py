"""Live progress of a run: the events a follower reads, and what activities publish.

Every run keeps an ordered log of events, each with its `offset` (0, 1, 2, ...). A follower
reads it with the `progress` query (`ProgressRequest` -> `ProgressPage`) from any offset, while
the run goes on and after it has ended: queries add nothing to the run's history, so any
number of followers cost no history. The log is rebuilt from the history on replay:
the workflow writes phase, tool, usage and end events itself; the answer's text reaches it
from the activity that follows the model's stream, in `publish_progress` signals of a few
deltas each (about every 200 ms, the first at once).

Text is exactly-once: each chunk says which message it belongs to and its place in that
message's stream, so a chunk sent again (a retried activity resuming the stream) is dropped,
and when a message ends its authoritative text completes whatever the stream did not deliver.
Joining a message's `text.delta`s gives its `text.done` text, always.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from workflows.common import Record, RunPhase, Usage
from workflows.run.outcome import RunResult

PROGRESS_QUERY = "progress"
PUBLISH_SIGNAL = "publish_progress"
MAX_PAGE_EVENTS = 1000


class PhaseChanged(Record):
    """The run entered `phase` (or its description changed); `details` says what it does."""

    type: Literal["phase"] = "phase"
    offset: int = 0
    phase: RunPhase
    details: str


class TextDelta(Record):
    """The next piece of the text of assistant message `message_id`, as the model writes it."""

    type: Literal["text.delta"] = "text.delta"
    offset: int = 0
    message_id: str
    delta: str


class TextDone(Record):
    """Message `message_id` is complete: `text` is its whole text (its deltas joined)."""

    type: Literal["text.done"] = "text.done"
    offset: int = 0
    message_id: str
    text: str


class ToolStarted(Record):
    type: Literal["tool.started"] = "tool.started"
    offset: int = 0
    call_id: str
    name: str
    arguments: str


class ToolFinished(Record):
    """A tool call ended: `output` is what the model gets (cut to 4,000 characters here;
    the run's result has it whole), `error` its error type if it failed."""

    type: Literal["tool.finished"] = "tool.finished"
    offset: int = 0
    call_id: str
    name: str
    output: str
    error: str | None = None
    attempts: int = 0
    duration_seconds: float = 0.0


class CodeInterpreterRan(Record):
    """The model ran Python in OpenAI's sandbox: its code, logs and the images it made. Sent
    only to followers that ask for it (`ProgressRequest.code_interpreter`), so followers that
    predate the event read on unchanged."""

    type: Literal["code_interpreter.ran"] = "code_interpreter.ran"
    offset: int = 0
    call_id: str
    code: str
    logs: str = ""
    image_file_ids: list[str] = Field(default_factory=list)


class ApprovalRequested(Record):
    """A tool call waits for a person: `decide_approval` with its `call_id`."""

    type: Literal["approval.requested"] = "approval.requested"
    offset: int = 0
    call_id: str
    name: str
    arguments: str


class ApprovalDecided(Record):
    """A waiting call was approved or denied (`timed_out`: nobody decided in time)."""

    type: Literal["approval.decided"] = "approval.decided"
    offset: int = 0
    call_id: str
    approved: bool
    reason: str | None = None
    timed_out: bool = False


class UsageReported(Record):
    """Tokens the run has used so far, after each of its model turns."""

    type: Literal["usage"] = "usage"
    offset: int = 0
    usage: Usage


class RunEnded(Record):
    """The last event of a run: its `RunResult`, or `error` if the workflow itself failed."""

    type: Literal["run.ended"] = "run.ended"
    offset: int = 0
    status: str
    result: RunResult | None = None
    error: str | None = None


ProgressEvent = Annotated[
    PhaseChanged
    | TextDelta
    | TextDone
    | ToolStarted
    | ToolFinished
    | CodeInterpreterRan
    | ApprovalRequested
    | ApprovalDecided
    | UsageReported
    | RunEnded,
    Field(discriminator="type"),
]


class ProgressRequest(Record):
    """Query `progress`: the events from `from_offset` on (at most `max_events`)."""

    from_offset: int = Field(0, ge=0)
    max_events: int = Field(MAX_PAGE_EVENTS, ge=1, le=MAX_PAGE_EVENTS)
    code_interpreter: bool = Field(False, description="include `code_interpreter.ran` events")


class ProgressPage(Record):
    """The events asked for; read on from `next_offset`. `ended`: the run has ended and this
    page reaches the last event (no event will follow)."""

    events: list[ProgressEvent] = Field(default_factory=list)
    next_offset: int = 0
    ended: bool = False


class TextChunk(Record):
    """A piece of a message's text as the API streamed it: `sequence` orders the chunks of
    one message (the API's event sequence number, or the chunk's index in the message)."""

    message_id: str
    sequence: int
    delta: str


class ProgressBatch(Record):
    """Signal `publish_progress`: text chunks an activity read from the model's stream."""

    chunks: list[TextChunk] = Field(default_factory=list)
