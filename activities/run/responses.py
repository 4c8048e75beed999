"""The Responses API backend: a run is a chain of background responses that the workflow owns.

The run's first response continues from the response `thread_id` (the conversation so far)
with the new messages; each round of tool outputs is a new response continuing from the last.
Only the response whose id the workflow recorded is ever continued, so a response that an
interrupted request created anyway (the API cannot list responses to find it) is a branch
nobody follows: it costs tokens, never a repeated message in the conversation.

Each response is followed on its event stream; its id and the last event's sequence number
travel in the activity's heartbeats, so a retry resumes the same stream with `starting_after`
instead of creating a second response. A cancelled start cancels the response it created.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import openai
from openai import AsyncOpenAI
from openai.types.responses import Response
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.heartbeats import despite_cancel, heartbeating
from activities.openai_errors import api_errors, checked, stream_error, validated
from activities.ownership import (
    THREAD_KEY,
    THREAD_START,
    made_by_caller,
    owned_metadata,
    thread_of,
)
from activities.progress import BATCH_SECONDS, TextPublisher
from activities.run.responses_items import response_params, snapshot, with_interpreter_outputs
from activities.stream_events import Events, ResponseEvent, ResponseState, untyped
from activities.tools import ToolRegistry
from workflows.common import RunPhase
from workflows.run.steps import CancelRun, RunSnapshot, StartRun, SubmitToolOutputs, WaitForRun

IDEMPOTENCY_KEY = "idempotency_key"
TERMINAL = frozenset({"completed", "failed", "cancelled", "incomplete"})
CONTINUED = [
    "model",
    "instructions",
    "tools",
    "temperature",
    "top_p",
    "tool_choice",
    "parallel_tool_calls",
    "text",
    "reasoning",
    "max_output_tokens",
    "metadata",
    "prompt",
    "truncation",
]
"""What a response that continues a run takes over from the one before it."""
REMEMBERED_RESPONSES = 4096


class RecentResponses:
    """What the last responses this worker saw end were configured with, so a tool round
    continues one without reading it again, and which thread each belongs to, so the next
    run of a conversation knows its thread; on another worker they are read."""

    def __init__(self, size: int = REMEMBERED_RESPONSES) -> None:
        self.size = size
        self.params: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.threads: OrderedDict[str, str | None] = OrderedDict()

    def remember(self, response: Response) -> None:
        self.params[response.id] = response.model_dump(include=set(CONTINUED), exclude_none=True)
        if len(self.params) > self.size:
            self.params.popitem(last=False)

    def recall(self, response_id: str) -> dict[str, Any] | None:
        return self.params.pop(response_id, None)

    def ended(self, response: Response) -> str | None:
        """Note the thread of a response that ended; returns it."""
        thread = thread_of(response.id, response.metadata)
        self.threads[response.id] = thread
        if len(self.threads) > self.size:
            self.threads.popitem(last=False)
        return thread


@dataclass
class Progress:
    """Where the activity is in the response it follows: what its heartbeats carry (and
    `durable-assistants status` shows)."""

    response_id: str | None = None
    sequence: int = -1
    status: str | None = None
    text: TextPublisher | None = None

    def details(self) -> tuple[Any, ...]:
        if self.response_id is None:
            return ()
        return ({"id": self.response_id, "status": self.status, "sequence": self.resume_after()},)

    def resume_after(self) -> int:
        """Where a retry resumes the stream: before the first text not yet published."""
        unsent = self.text.unsent_from() if self.text else None
        return self.sequence if unsent is None else min(self.sequence, unsent - 1)

    @classmethod
    def of_earlier_attempt(cls) -> Progress:
        details = activity.info().heartbeat_details
        if len(details) == 1 and isinstance(details[0], dict) and details[0].get("id"):
            where = details[0]
            return cls(str(where["id"]), int(where.get("sequence", -1)), where.get("status"))
        return cls()


class ResponsesBackend:
    """The run steps on the Responses API: background responses, followed and chained."""

    def __init__(
        self,
        client: AsyncOpenAI,
        tools: ToolRegistry,
        poll_interval: float = 0.25,
        max_poll_interval: float = 2.0,
        batch_seconds: float = BATCH_SECONDS,
    ) -> None:
        self.client = client
        self.tools = tools
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.batch_seconds = batch_seconds
        self.recent = RecentResponses()

    async def start_run(self, request: StartRun) -> RunSnapshot:
        params = response_params(request, self.tools)
        thread = await self._thread_of(request.thread_id) if request.thread_id else None
        tags = {IDEMPOTENCY_KEY: request.idempotency_key, THREAD_KEY: thread or THREAD_START}
        params["metadata"] = owned_metadata({**params.get("metadata", {}), **tags}, request.tenant)
        return await self._respond(params, "starting a response", request.stream)

    async def _thread_of(self, response_id: str) -> str | None:
        """The thread a response belongs to (None: one this system did not begin: the run
        begins a thread of its own from there)."""
        if response_id in self.recent.threads:
            return self.recent.threads[response_id]
        with api_errors(f"reading {response_id}"):
            response = checked(await self.client.responses.retrieve(response_id))
        return thread_of(response.id, response.metadata)

    async def submit_tool_outputs(self, request: SubmitToolOutputs) -> RunSnapshot:
        """A response continuing from the run's with the outputs, configured like it."""
        previous_id = request.run.run_id
        kept = self.recent.recall(previous_id)
        if kept is None:
            with api_errors(f"reading {previous_id}"):
                previous = checked(await self.client.responses.retrieve(previous_id))
            kept = previous.model_dump(include=set(CONTINUED), exclude_none=True)
        metadata = dict(kept.get("metadata") or {})
        if metadata.get(THREAD_KEY) == THREAD_START:  # it began the thread: this one follows
            metadata[THREAD_KEY] = previous_id
        params: dict[str, Any] = {
            **kept,
            "metadata": metadata,
            "previous_response_id": previous_id,
            "input": [
                {"type": "function_call_output", "call_id": o.tool_call_id, "output": o.output}
                for o in request.tool_outputs
            ],
        }
        doing = f"submitting tool outputs to {previous_id}"
        return await self._respond(with_interpreter_outputs(params), doing, request.stream)

    async def wait_for_run(self, request: WaitForRun) -> RunSnapshot:
        async with heartbeating():
            with api_errors(f"waiting for {request.run.run_id}"):
                return await self._settle(request.run.run_id)

    async def cancel_run(self, request: CancelRun) -> RunSnapshot:
        """Cancel the response (idempotent) and wait until it ended. Without an id there is
        nothing to cancel: a start cancels the response it created itself."""
        if request.run_id is None:
            return RunSnapshot(thread_id=request.thread_id or "", status=RunPhase.cancelled)
        async with heartbeating():
            with api_errors(f"cancelling {request.run_id}"):
                return await self._cancel(request.run_id)

    async def delete_own_thread(self, thread_id: str) -> bool:
        """Delete the chain ending at `thread_id` back to the first response the calling
        workflow did not make (a conversation: its runs): never one it continued from
        another run, conversation or tenant. False if it deleted nothing."""
        return await self._delete_back(thread_id, lambda r: made_by_caller(r.metadata)) > 0

    async def chain(self, root: str, heads: list[str]) -> list[Response]:
        """Every response of ours of the thread `root` began that the walks back from each
        head (and from `root`) reach, each walk stopping at a response of another thread,
        not ours, or gone: the responses it continued from a thread it did not begin are
        not of it."""
        found: dict[str, Response] = {}
        with api_errors(f"reading the responses of {root}"):
            for head in dict.fromkeys([*heads, root]):
                response_id: str | None = head
                while response_id is not None and response_id not in found:
                    try:
                        response = await self.client.responses.retrieve(response_id)
                    except openai.NotFoundError:
                        break
                    if thread_of(response.id, response.metadata) != root:
                        break
                    found[response_id] = response
                    response_id = response.previous_response_id
        return list(found.values())

    async def delete_responses(self, responses: list[Response]) -> None:
        """Delete the responses (and the containers made for them); gone already is fine."""
        with api_errors("deleting responses"):
            for response in responses:
                await self._delete_auto_containers(response)
                with contextlib.suppress(openai.NotFoundError):
                    await self.client.responses.delete(response.id)

    async def _delete_back(self, head: str, deletable: Callable[[Response], bool]) -> int:
        response_id: str | None = head
        deleted = 0
        with api_errors(f"deleting the responses before {head}"):
            while response_id is not None:
                try:
                    response = await self.client.responses.retrieve(response_id)
                except openai.NotFoundError:
                    break
                if not deletable(response):
                    break
                await self.delete_responses([response])
                response_id, deleted = response.previous_response_id, deleted + 1
        return deleted

    async def _delete_auto_containers(self, response: Response) -> None:
        """The containers made for a response of ours (an `auto` container) go with it, and
        the files the model generated in them; a container named by id is the caller's."""
        named = [
            tool.container
            for tool in response.tools
            if tool.type == "code_interpreter" and isinstance(tool.container, str)
        ]
        made = {
            item.container_id
            for item in response.output
            if item.type == "code_interpreter_call" and item.container_id not in named
        }
        for container_id in made:
            with contextlib.suppress(openai.NotFoundError):
                await self.client.containers.delete(container_id)

    async def thread_exists(self, thread_id: str) -> bool:
        with api_errors(f"looking up {thread_id}"):
            try:
                await self.client.responses.retrieve(thread_id)
            except openai.NotFoundError:
                return False
        return True

    async def _respond(self, params: dict[str, Any], doing: str, stream: bool) -> RunSnapshot:
        """Create a background response (or resume the one an earlier attempt created) and
        follow it until it ends, publishing its text if `stream`; a cancel cancels it."""
        progress = Progress.of_earlier_attempt()
        async with (
            TextPublisher(stream, self.batch_seconds) as progress.text,
            heartbeating(progress.details),
        ):
            with api_errors(doing):
                try:
                    if progress.response_id is None:
                        async with await self._create(params, progress) as events:
                            if (ended := await self._read(events, progress, doing)) is not None:
                                return self._ended(ended)
                    return await self._follow_to_the_end(progress, doing)
                except asyncio.CancelledError:
                    if progress.response_id is None or not _cancel_requested():
                        raise  # a timed-out or shut-down attempt: the retry resumes it
                    return await self._cancel(progress.response_id)

    async def _create(self, params: dict[str, Any], progress: Progress) -> Events:
        """Create the response; returns its stream once its id is known (and heartbeated). A
        cancel that arrives meanwhile waits for the id, then goes on (to cancel it)."""
        create = self.client.responses.with_raw_response.create(
            **params, background=True, store=True, stream=True
        )
        events, cancelled = await despite_cancel(untyped(create))
        try:
            async for event in events:
                self._note(event, progress, "creating a response")
                if progress.response_id is not None:
                    break
        except BaseException:
            await events.close()
            raise
        if progress.response_id is None:
            await events.close()
            raise ApplicationError("the response stream ended before the response was created")
        activity.heartbeat(*progress.details())
        if cancelled:
            await events.close()
            raise asyncio.CancelledError("cancelled while the response was being created")
        return events

    async def _read(self, events: Events, progress: Progress, doing: str) -> Response | None:
        """Read the stream on; the response once it has ended, None if the stream stopped."""
        async for event in events:
            if (ended := self._note(event, progress, doing)) is not None:
                return ended
        return None

    async def _follow_to_the_end(self, progress: Progress, doing: str) -> RunSnapshot:
        """Resume the response's stream after the last event seen (`starting_after`) until it
        ends; after a few streams that stop early, poll."""
        assert progress.response_id is not None
        for _ in range(3):
            resumed = await untyped(
                self.client.responses.with_raw_response.retrieve(
                    progress.response_id, stream=True, starting_after=progress.sequence
                )
            )
            async with resumed as events:
                if (ended := await self._read(events, progress, doing)) is not None:
                    return self._ended(ended)
        return await self._settle(progress.response_id)

    def _note(self, data: object, progress: Progress, doing: str) -> Response | None:
        """Record where the stream is; the response once it has ended."""
        event = validated(ResponseEvent, data)
        progress.sequence = event.sequence_number
        if event.type == "response.output_text.delta" and progress.text is not None:
            progress.text.text(event.item_id or "", event.sequence_number, event.delta or "")
        if event.type == "error":
            raise stream_error(doing, event.code, event.message)
        if event.response is None:
            return None
        response = validated(ResponseState, event.response)
        progress.response_id, progress.status = response.id, response.status
        return validated(Response, event.response) if response.status in TERMINAL else None

    def _ended(self, response: Response) -> RunSnapshot:
        ended = snapshot(response)
        ended.thread_root = self.recent.ended(response)
        if ended.status == RunPhase.requires_action:
            self.recent.remember(response)
        return ended

    async def _cancel(self, response_id: str) -> RunSnapshot:
        """Cancel the response; one that had ended keeps how it ended, except that one waiting
        for tool outputs ends the run cancelled (no response will continue it)."""
        with contextlib.suppress(openai.BadRequestError):  # it had ended
            await self.client.responses.cancel(response_id)
        ended = await self._settle(response_id)
        if ended.status == RunPhase.requires_action:
            return ended.model_copy(update={"status": RunPhase.cancelled, "tool_calls": []})
        return ended

    async def _settle(self, response_id: str) -> RunSnapshot:
        """Poll the response until it has ended, with backoff."""
        delay = self.poll_interval
        while True:
            raw = await self.client.responses.with_raw_response.retrieve(response_id)
            response = checked(raw.parse())
            if response.status in TERMINAL:
                return self._ended(response)
            asked = raw.headers.get("openai-poll-after-ms")
            await asyncio.sleep(float(asked) / 1000 if asked else delay)
            delay = min(delay * 1.5, self.max_poll_interval)


def _cancel_requested() -> bool:
    """The workflow asked for the cancel (not a timeout, a shutdown, a lost activity)."""
    details = activity.cancellation_details()
    return details is not None and details.cancel_requested
