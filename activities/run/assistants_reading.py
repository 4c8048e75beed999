"""Reading what an Assistants API run came to: its snapshot for the workflow (with its messages
once it has ended, the usage of its closed steps while it waits, the code it ran), and its
event stream as it is followed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from openai import AsyncOpenAI
from openai.types.beta.threads import Message, Run
from temporalio.exceptions import ApplicationError

from activities.heartbeats import watch
from activities.openai_errors import stream_error, validated
from activities.progress import TextPublisher
from activities.run.assistants_messages import snapshot
from activities.run.generated import assistants_call, files_of
from activities.stream_events import Events, MessageDelta, RunEvent, RunState, StreamError
from workflows.common import Usage
from workflows.run.outcome import CodeInterpreterCall
from workflows.run.steps import RunSnapshot

TERMINAL = frozenset({"completed", "failed", "cancelled", "expired", "incomplete"})
"""A run's statuses once it has ended."""
MESSAGE_WRITTEN = frozenset({"thread.message.completed", "thread.message.incomplete"})
RUN_STEP = "thread.run.step."


class RunReader:
    def __init__(self, client: AsyncOpenAI) -> None:
        self.client = client

    async def snapshot(self, run: Run, written: list[Message] | None = None) -> RunSnapshot:
        """The run, with all of its messages once it has ended (listed unless `written` has
        them). A run waiting for tool outputs has no usage yet: its closed steps' usage stands
        in (the turns before this one), so a token budget can be checked between turns."""
        if run.status not in TERMINAL:
            waiting = snapshot(run, [])
            if run.status == "requires_action" and waiting.usage is None:
                waiting.usage = await self._steps_usage(run)
            return waiting
        if written is None:
            listed = self.client.beta.threads.messages.list(
                run.thread_id, run_id=run.id, order="asc", limit=100
            )
            written = [m async for m in listed]
        ended = snapshot(run, written)
        if any(tool.type == "code_interpreter" for tool in run.tools):
            ended.code_interpreter_calls = await self._code_interpreter_calls(run)
            ended.files = files_of(ended.messages, ended.code_interpreter_calls)
        return ended

    async def _code_interpreter_calls(self, run: Run) -> list[CodeInterpreterCall]:
        """The code the run ran, from its tool-call steps."""
        calls = []
        listed = self.client.beta.threads.runs.steps.list(
            run.id, thread_id=run.thread_id, order="asc", limit=100
        )
        async for step in listed:
            if step.step_details.type == "tool_calls":
                calls += [
                    assistants_call(call)
                    for call in step.step_details.tool_calls
                    if call.type == "code_interpreter"
                ]
        return calls

    async def _steps_usage(self, run: Run) -> Usage:
        """The usage the run's closed steps report (each step's own share of the run's)."""
        usage = Usage()
        listed = self.client.beta.threads.runs.steps.list(
            run.id, thread_id=run.thread_id, limit=100
        )
        async for step in listed:
            if step.usage is not None:
                usage += Usage.model_validate(step.usage.model_dump())
        return usage


@dataclass
class _RunEvents:
    run: Any = None
    """The run as its last event had it."""
    messages: list[Any] = field(default_factory=list)
    """The messages the run finished writing, in order."""


async def read_run_events(events: Events, doing: str, text: TextPublisher) -> _RunEvents:
    """Read a run's events to the stream's end, publishing its text as it comes."""
    followed = _RunEvents()
    deltas: dict[str, int] = {}  # per message: how many text deltas so far
    async for data in events:
        event = validated(RunEvent, data)
        if event.event == "thread.message.delta":
            message = validated(MessageDelta, event.data)
            for part in message.delta.content or []:
                if part.type == "text" and part.text and part.text.value:
                    deltas[message.id] = index = deltas.get(message.id, -1) + 1
                    text.text(message.id, index, part.text.value)
        elif event.event in MESSAGE_WRITTEN:
            followed.messages.append(event.data)
        elif event.event == "error":
            error = validated(StreamError, event.data)
            raise stream_error(doing, error.code, error.message)
        elif event.event.startswith("thread.run.") and not event.event.startswith(RUN_STEP):
            followed.run = event.data
            state = validated(RunState, event.data)
            watch(state.id, state.status)
    if followed.run is None:
        raise ApplicationError("the run's event stream ended before the run was created")
    return followed
