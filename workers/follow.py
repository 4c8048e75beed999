"""Following a run's live progress from another process: `follow` and `follow_conversation`.

Both read the `progress` query of `AssistantRun` (see `workflows.run.progress`), which any
Temporal SDK can call: `{"from_offset": N}` in, `{"events": [...], "next_offset": M,
"ended": bool}` out. Queries write nothing to the run's history, so followers are free of
history cost; each poll is one query answered by a worker from its cache.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from workflows.common import RunPhase
from workflows.run.outcome import RunResult
from workflows.run.progress import (
    PROGRESS_QUERY,
    PhaseChanged,
    ProgressEvent,
    ProgressPage,
    ProgressRequest,
    RunEnded,
)
from workflows.thread.contracts import ThreadState
from workflows.thread.workflow import AssistantThread

POLL_SECONDS = 0.05
WRITING_QUIET_SECONDS = 1.0
WRITING_POLL_SECONDS = 0.25
"""The longest pause between polls while the model may be writing (text comes next), once
it has been quiet for `WRITING_QUIET_SECONDS`."""
IDLE_POLL_SECONDS = 1.0
"""The longest pause between polls while tools run or a person decides, and between looks
for a conversation's next run: an idle follower costs about one query a second."""
MODEL_PHASES = frozenset(
    {RunPhase.creating, RunPhase.queued, RunPhase.in_progress, RunPhase.submitting_outputs}
)
FIRST_TASK_EVENTS = 3
"""Started, then the first workflow task scheduled and started: its completion is next."""
RUNNING = WorkflowExecutionStatus.RUNNING
QUIET_CHECK_SECONDS = 2.0
"""With no new event for this long, check whether the run was closed without its last event
(terminated, or timed out): then there is nothing more to wait for."""


async def follow(
    client: Client,
    workflow_id: str,
    from_offset: int = 0,
    poll_seconds: float = POLL_SECONDS,
) -> AsyncIterator[ProgressEvent]:
    """Every progress event of the run `workflow_id` from `from_offset` on, as it happens,
    until the run's last event (`run.ended`). Works as well after the run has ended, for as
    long as Temporal keeps its history. Raises `RPCError` (NOT_FOUND) for an unknown run."""
    handle = client.get_workflow_handle(workflow_id)
    await _first_task_done(handle, poll_seconds)
    offset = from_offset
    loop = asyncio.get_running_loop()
    quiet_since = loop.time()
    closed = False  # without its last event: read what is left, then stop
    pause = Pause(poll_seconds)
    while True:
        page = await _page(handle, offset)
        for event in page.events:
            pause.saw(event)
            yield event
        offset = page.next_offset
        if page.ended or (closed and not page.events):
            return
        if page.events:
            quiet_since = loop.time()
        elif loop.time() - quiet_since > QUIET_CHECK_SECONDS:
            closed = await _closed(handle)
            quiet_since = loop.time()
        if not closed:
            await asyncio.sleep(pause.next(bool(page.events)))


class Pause:
    """How long a follower waits before its next poll: `shortest` while events come and for
    the first `WRITING_QUIET_SECONDS` of quiet while the model may be writing (a first token
    is seen at once), then longer and longer while none come, up to `WRITING_POLL_SECONDS`
    while the model may be writing and `IDLE_POLL_SECONDS` while tools run or an approval
    waits."""

    def __init__(self, shortest: float) -> None:
        self.shortest = shortest
        self.seconds = shortest
        self.quiet = 0.0
        self.phase: RunPhase | None = None

    def saw(self, event: ProgressEvent) -> None:
        if isinstance(event, PhaseChanged):
            self.phase = event.phase

    def next(self, got_events: bool) -> float:
        writing = self.phase is None or self.phase in MODEL_PHASES
        if got_events or (writing and self.quiet < WRITING_QUIET_SECONDS):
            self.seconds = self.shortest
        else:
            longest = WRITING_POLL_SECONDS if writing else IDLE_POLL_SECONDS
            self.seconds = min(self.seconds * 1.5, max(self.shortest, longest))
        self.quiet = 0.0 if got_events else self.quiet + self.seconds
        return self.seconds


async def follow_conversation(
    client: Client,
    key: str,
    from_run: int | None = None,
    poll_seconds: float = POLL_SECONDS,
    starting: bool = False,
) -> AsyncGenerator[tuple[str, ProgressEvent]]:
    """The progress of the conversation `key`'s runs, as (run workflow id, event): from its
    run number `from_run` (default: the one answering now, else the next) on, until the
    conversation closes. `starting`: the conversation may not exist yet (a message that
    starts it is on its way); else an unknown conversation raises NOT_FOUND."""
    thread = client.get_workflow_handle_for(AssistantThread.run, f"thread-{key}")
    number = from_run or await current_run_number(client, key)
    while True:
        run_id = f"{thread.id}/run-{number}"
        if not await _wait_for_run(client, thread, run_id, poll_seconds, starting):
            return
        starting = False
        async for event in follow(client, run_id, poll_seconds=poll_seconds):
            yield run_id, event
        number += 1


async def answer_progress(
    client: Client, key: str, from_run: int, answer: asyncio.Future[RunResult]
) -> AsyncIterator[tuple[str, ProgressEvent]]:
    """The conversation's runs from number `from_run` (the current or next one when the
    message was sent, `current_run_number`), as (run workflow id, event), until `answer`
    (the message's send) has its result and the run that answered it has ended. Runs
    answering messages queued before it come first. The caller awaits `answer` after it."""
    events = follow_conversation(client, key, from_run, starting=True)
    ended: set[str | None] = set()  # API run ids of the runs followed to their end
    following = asyncio.ensure_future(_next(events))
    try:
        while True:
            waiting: set[asyncio.Future[Any]] = {following, answer}
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if following.done():
                if (item := following.result()) is None:
                    return
                yield item
                event = item[1]
                if isinstance(event, RunEnded):  # a run failed as a workflow has no API run
                    ended.add(event.result.run_id if event.result is not None else None)
                following = asyncio.ensure_future(_next(events))
            if answer.done() and (answer.exception() or answer.result().run_id in ended):
                return
    finally:
        following.cancel()
        with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
            await following
        await events.aclose()


async def _next(
    events: AsyncGenerator[tuple[str, ProgressEvent]],
) -> tuple[str, ProgressEvent] | None:
    with contextlib.suppress(StopAsyncIteration):
        return await anext(events)
    return None


async def current_run_number(client: Client, key: str) -> int:
    """The number of the conversation's run answering now, or else of its next run (also
    for a closed conversation, which numbers on when reopened; 1 for a new one)."""
    thread = client.get_workflow_handle_for(AssistantThread.run, f"thread-{key}")
    try:
        state = await thread.query(AssistantThread.state)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return 1
        raise
    if state.current_run:
        return int(state.current_run.rsplit("-", 1)[1])
    return state.runs_done + 1


async def _page(handle: WorkflowHandle[object, object], offset: int) -> ProgressPage:
    page: ProgressPage = await handle.query(
        PROGRESS_QUERY,
        ProgressRequest(from_offset=offset, code_interpreter=True),
        result_type=ProgressPage,
    )
    return page


async def _first_task_done(handle: WorkflowHandle[Any, Any], poll_seconds: float) -> None:
    """Wait until the run's first workflow task is done. A query that lands while that task
    runs its local activity makes the worker end the task early to answer it, which costs
    the run a workflow task (3 history events); afterwards queries cost nothing."""
    while True:
        described = await handle.describe()
        if described.history_length > FIRST_TASK_EVENTS or described.status != RUNNING:
            return
        await asyncio.sleep(poll_seconds)


async def _closed(handle: WorkflowHandle[Any, Any]) -> bool:
    return (await handle.describe()).status != RUNNING


async def _wait_for_run(
    client: Client,
    thread: WorkflowHandle[AssistantThread, ThreadState],
    run_id: str,
    poll_seconds: float,
    starting: bool,
) -> bool:
    """Wait until the run `run_id` exists; False if the conversation closed first (unless it
    is `starting`: a message on its way starts or reopens it)."""
    run = client.get_workflow_handle(run_id)
    pause = max(poll_seconds, 0.2)
    while True:
        try:
            await run.describe()
            return True
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
        if not starting and await _closed(thread):
            return False
        await asyncio.sleep(pause)
        pause = min(pause * 1.5, max(poll_seconds, IDLE_POLL_SECONDS))
