"""The Assistants API backend: thread, messages and run creation, waits, tool-output
submission and cancellation, each safe to retry.

Runs are followed by streaming their events (one request however long the model takes);
after an interruption the run is found again by its idempotency key and followed by polling
that honours `openai-poll-after-ms`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from typing import Any

import openai
from openai import AsyncOpenAI
from openai.types.beta import AssistantStreamEvent
from openai.types.beta.threads import Message, Run
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.heartbeats import heartbeating
from activities.openai_errors import api_errors, checked
from activities.tools import ToolRegistry, tool_definition
from workflows.backend import (
    CANCEL_RUN,
    CREATE_THREAD,
    DELETE_THREAD,
    ENSURE_ASSISTANT,
    START_RUN,
    SUBMIT_TOOL_OUTPUTS,
    WAIT_FOR_RUN,
    WAIT_FOR_VECTOR_STORES,
    CancelRun,
    CreateThread,
    EnsureAssistant,
    RunRef,
    RunSnapshot,
    StartRun,
    SubmitToolOutputs,
    WaitForRun,
    WaitForVectorStores,
)
from workflows.contracts import (
    BUILT_IN_TOOLS,
    InputMessage,
    RunError,
    RunMessage,
    RunPhase,
    ToolCall,
    ToolReference,
    Usage,
)

IDEMPOTENCY_KEY = "idempotency_key"
SPEC_HASH = "spec_hash"
SETTLED = frozenset(
    {"requires_action", "completed", "failed", "cancelled", "expired", "incomplete"}
)
TERMINAL = SETTLED - {"requires_action"}


class AssistantsActivities:
    def __init__(
        self,
        client: AsyncOpenAI,
        tools: ToolRegistry,
        poll_interval: float = 0.25,
        max_poll_interval: float = 2.0,
    ) -> None:
        self.client = client
        self.tools = tools
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval

    @activity.defn(name=ENSURE_ASSISTANT)
    async def ensure_assistant(self, request: EnsureAssistant) -> str:
        """The id of the assistant named by the spec, created or updated to match it."""
        spec = request.spec
        params: dict[str, Any] = spec.model_dump(exclude={"tools", "metadata"}, exclude_none=True)
        params["tools"] = self.resolve_tools(spec.tools)
        digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:32]
        params["metadata"] = {**spec.metadata, SPEC_HASH: digest}
        with api_errors(f"ensuring assistant {spec.name!r}"):
            async for assistant in self.client.beta.assistants.list(limit=100):
                if assistant.name == spec.name:
                    if (assistant.metadata or {}).get(SPEC_HASH) != digest:
                        await self.client.beta.assistants.update(assistant.id, **params)
                    return assistant.id
            created = await self.client.beta.assistants.create(**params)
        return created.id

    @activity.defn(name=CREATE_THREAD)
    async def create_thread(self, request: CreateThread) -> str:
        """An empty thread. A retry after a lost reply leaves one empty thread behind: no
        message or run is ever duplicated, because those come with the run."""
        with api_errors("creating a thread"):
            thread = checked(
                await self.client.beta.threads.create(metadata=request.metadata or None)
            )
        return thread.id

    @activity.defn(name=START_RUN)
    async def start_run(self, request: StartRun) -> RunSnapshot:
        thread_id = request.thread_id
        async with heartbeating():
            return await self._start_run(thread_id, request)

    async def _start_run(self, thread_id: str, request: StartRun) -> RunSnapshot:
        with api_errors(f"starting a run on {thread_id}"):
            if activity.info().attempt > 1:
                earlier = await self._find_run(thread_id, request.idempotency_key)
                if earlier is not None:
                    return await self._settle(earlier)
            stream = await self.client.beta.threads.runs.create(
                thread_id,
                assistant_id=request.assistant_id,
                additional_messages=[_message_param(m) for m in request.messages],  # type: ignore[misc]
                stream=True,
                **self._run_params(request),
            )
            return await self._follow(thread_id, stream)

    @activity.defn(name=WAIT_FOR_RUN)
    async def wait_for_run(self, request: WaitForRun) -> RunSnapshot:
        async with heartbeating():
            with api_errors(f"waiting for {request.run.run_id}"):
                run = await self._retrieve(request.run)
                return await self._settle(run, TERMINAL if request.until_terminal else SETTLED)

    @activity.defn(name=SUBMIT_TOOL_OUTPUTS)
    async def submit_tool_outputs(self, request: SubmitToolOutputs) -> RunSnapshot:
        async with heartbeating():
            return await self._submit_tool_outputs(request)

    async def _submit_tool_outputs(self, request: SubmitToolOutputs) -> RunSnapshot:
        ref = request.run
        ids = sorted(o.tool_call_id for o in request.tool_outputs)
        with api_errors(f"submitting tool outputs to {ref.run_id}"):
            run = await self._retrieve(ref) if activity.info().attempt > 1 else None
            if run is not None and _required_call_ids(run) != ids:
                return await self._settle(run)  # an earlier attempt's submission was accepted
            try:
                stream = await self.client.beta.threads.runs.submit_tool_outputs(
                    ref.run_id,
                    thread_id=ref.thread_id,
                    tool_outputs=[o.model_dump() for o in request.tool_outputs],  # type: ignore[misc]
                    stream=True,
                )
            except openai.BadRequestError:
                run = await self._retrieve(ref)
                if _required_call_ids(run) == ids:
                    raise
                return await self._settle(run)  # expired or cancelled meanwhile
            return await self._follow(ref.thread_id, stream)

    @activity.defn(name=CANCEL_RUN)
    async def cancel_run(self, request: CancelRun) -> RunSnapshot:
        if request.thread_id is None:
            return RunSnapshot(thread_id="", status=RunPhase.cancelled)
        async with heartbeating():
            return await self._cancel_run(request)

    async def _cancel_run(self, request: CancelRun) -> RunSnapshot:
        assert request.thread_id is not None
        with api_errors(f"cancelling the run on {request.thread_id}"):
            run = await self._cancellable(request)
            if run is None:
                return RunSnapshot(thread_id=request.thread_id, status=RunPhase.cancelled)
            if run.status not in TERMINAL and run.status != "cancelling":
                run = await self._cancel(run)
            return await self._settle(run, until=TERMINAL)

    @activity.defn(name=DELETE_THREAD)
    async def delete_thread(self, thread_id: str) -> bool:
        """Delete a thread; False if it was already gone."""
        with api_errors(f"deleting {thread_id}"):
            try:
                await self.client.beta.threads.delete(thread_id)
            except openai.NotFoundError:
                return False
        return True

    @activity.defn(name=WAIT_FOR_VECTOR_STORES)
    async def wait_for_vector_stores(self, request: WaitForVectorStores) -> list[str]:
        """Wait (bounded) until the file_search stores of the assistant and the thread have
        no file in progress; their ids."""
        async with heartbeating():
            with api_errors("waiting for vector stores"):
                stores = await self._vector_store_ids(request)
                deadline = time.monotonic() + request.timeout_seconds
                delay = self.poll_interval
                while busy := [s for s in stores if await self._indexing(s)]:
                    if time.monotonic() > deadline:
                        raise ApplicationError(
                            f"vector stores {', '.join(busy)} still indexing after "
                            f"{request.timeout_seconds:g}s",
                            type="VectorStoreNotReady",
                            non_retryable=True,
                        )
                    await asyncio.sleep(delay)
                    delay = min(delay * 1.5, self.max_poll_interval)
        return stores

    async def _vector_store_ids(self, request: WaitForVectorStores) -> list[str]:
        assistant = await self.client.beta.assistants.retrieve(request.assistant_id)
        thread = await self.client.beta.threads.retrieve(request.thread_id)
        ids: list[str] = []
        for resources in (assistant.tool_resources, thread.tool_resources):
            if resources is not None and resources.file_search is not None:
                ids += resources.file_search.vector_store_ids or []
        return list(dict.fromkeys(ids))

    async def _indexing(self, vector_store_id: str) -> bool:
        store = await self.client.vector_stores.retrieve(vector_store_id)
        return store.file_counts.in_progress > 0

    def resolve_tools(self, references: list[ToolReference]) -> list[dict[str, Any]]:
        """API tool objects for registered tool names, built-ins and literal tool objects."""
        resolved: list[dict[str, Any]] = []
        for reference in references:
            if isinstance(reference, dict):
                resolved.append(reference)
            elif reference in BUILT_IN_TOOLS:
                resolved.append({"type": reference})
            elif (registered := self.tools.get(reference)) is not None:
                resolved.append(tool_definition(registered.spec, "assistants"))
            else:
                raise ApplicationError(
                    f"tools: no registered tool named {reference!r}",
                    type="UnknownTool",
                    non_retryable=True,
                )
        return resolved

    def _run_params(self, request: StartRun) -> dict[str, Any]:
        params = {k: v for k, v in request.overrides.items() if v is not None}
        if "tools" in params:
            params["tools"] = self.resolve_tools(params["tools"])
        params["metadata"] = {
            **params.get("metadata", {}),
            IDEMPOTENCY_KEY: request.idempotency_key,
        }
        return params

    async def _find_run(self, thread_id: str, key: str) -> Run | None:
        async for run in self.client.beta.threads.runs.list(thread_id, limit=100, order="desc"):
            if (run.metadata or {}).get(IDEMPOTENCY_KEY) == key:
                return checked(run)
        return None

    async def _cancellable(self, request: CancelRun) -> Run | None:
        assert request.thread_id is not None
        if request.run_id is not None:
            return await self._retrieve(RunRef(thread_id=request.thread_id, run_id=request.run_id))
        return await self._find_run(request.thread_id, request.idempotency_key)

    async def _cancel(self, run: Run) -> Run:
        try:
            return checked(
                await self.client.beta.threads.runs.cancel(run.id, thread_id=run.thread_id)
            )
        except Exception:  # it may have ended meanwhile: what it is now decides
            latest = await self._retrieve(RunRef(thread_id=run.thread_id, run_id=run.id))
            if latest.status in TERMINAL:
                return latest
            raise

    async def _retrieve(self, ref: RunRef) -> Run:
        run, _ = await self._retrieve_with_delay(ref)
        return run

    async def _retrieve_with_delay(self, ref: RunRef) -> tuple[Run, float | None]:
        raw = await self.client.beta.threads.runs.with_raw_response.retrieve(
            ref.run_id, thread_id=ref.thread_id
        )
        poll_after = raw.headers.get("openai-poll-after-ms")
        return checked(raw.parse()), float(poll_after) / 1000 if poll_after else None

    async def _settle(self, run: Run, until: frozenset[str] = SETTLED) -> RunSnapshot:
        """Poll `run` until its status is in `until`, heartbeating, with backoff."""
        ref = RunRef(thread_id=run.thread_id, run_id=run.id)
        delay = self.poll_interval
        while run.status not in until:
            await asyncio.sleep(delay)
            run, asked = await self._retrieve_with_delay(ref)
            delay = asked if asked is not None else min(delay * 1.5, self.max_poll_interval)
        return await self._snapshot(run, None)

    async def _follow(self, thread_id: str, events: Any) -> RunSnapshot:
        """Read a run's event stream until it needs outputs or ends."""
        run: Run | None = None
        messages: list[Message] = []
        event: AssistantStreamEvent
        async for event in events:
            if event.event in ("thread.message.completed", "thread.message.incomplete"):
                messages.append(event.data)
            elif event.event.startswith("thread.run.") and isinstance(event.data, Run):
                run = checked(event.data)
        if run is None:
            raise ApplicationError("the run's event stream ended before the run was created")
        if run.status not in SETTLED:  # the stream ended early: the run goes on without us
            return await self._settle(run)
        return await self._snapshot(run, messages)

    async def _snapshot(self, run: Run, messages: list[Message] | None) -> RunSnapshot:
        if run.status in TERMINAL and messages is None:
            messages = [
                m
                async for m in self.client.beta.threads.messages.list(
                    run.thread_id, run_id=run.id, order="asc", limit=100
                )
            ]
        return snapshot(run, messages or [])


def snapshot(run: Run, messages: list[Message]) -> RunSnapshot:
    action = run.required_action
    calls = action.submit_tool_outputs.tool_calls if action is not None else []
    return RunSnapshot(
        thread_id=run.thread_id,
        run_id=run.id,
        status=RunPhase(run.status),
        tool_calls=[
            ToolCall(id=c.id, name=c.function.name, arguments=c.function.arguments) for c in calls
        ],
        usage=Usage.model_validate(run.usage.model_dump()) if run.usage else None,
        last_error=RunError(code=run.last_error.code, message=run.last_error.message)
        if run.last_error
        else None,
        incomplete_details=run.incomplete_details.model_dump() if run.incomplete_details else None,
        expires_at=run.expires_at,
        created_at=run.created_at,
        completed_at=run.completed_at or run.failed_at or run.cancelled_at,
        messages=[run_message(m) for m in messages],
    )


def run_message(message: Message) -> RunMessage:
    texts, annotations, file_ids = [], [], []
    for part in message.content:
        if part.type == "text":
            texts.append(part.text.value)
            annotations += [a.model_dump() for a in part.text.annotations]
            file_ids += [
                a.file_path.file_id for a in part.text.annotations if a.type == "file_path"
            ]
        elif part.type == "image_file":
            file_ids.append(part.image_file.file_id)
    file_ids += [a.file_id for a in message.attachments or [] if a.file_id]
    return RunMessage(
        id=message.id,
        role=message.role,
        text="\n".join(texts),
        annotations=annotations,
        file_ids=file_ids,
    )


def _required_call_ids(run: Run) -> list[str]:
    if run.status != "requires_action" or run.required_action is None:
        return []
    return sorted(c.id for c in run.required_action.submit_tool_outputs.tool_calls)


def _message_param(message: InputMessage) -> dict[str, Any]:
    return {
        "role": message.role,
        "content": message.content,
        "attachments": [
            {"file_id": a.file_id, "tools": [{"type": t} for t in a.tools]}
            for a in message.attachments
        ]
        or None,
        "metadata": message.metadata or None,
    }
