"""The Assistants API backend: thread, messages and run creation, waits, tool-output
submission and cancellation, each safe to retry.

Runs are followed by streaming their events (one request however long the model takes);
after an interruption the run is found again by its idempotency key and followed by polling
that honours `openai-poll-after-ms`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from typing import Any

import openai
from openai import AsyncOpenAI
from openai.types.beta import Assistant
from openai.types.beta.threads import Message, Run
from temporalio import activity

from activities.heartbeats import despite_cancel, heartbeating, watch
from activities.openai_errors import active_run_id, api_errors, checked, validated
from activities.ownership import (
    OWNER_KEY,
    TENANT_KEY,
    is_owned,
    made_by_caller,
    owned_metadata,
)
from activities.progress import BATCH_SECONDS, TextPublisher
from activities.run.assistants_messages import (
    message_param,
    required_call_ids,
    run_message,
)
from activities.run.assistants_reading import RunReader, read_run_events
from activities.stream_events import Events, untyped
from activities.tool_schemas import resolve_tools
from activities.tools import ToolRegistry
from workflows.common import RunPhase
from workflows.run.steps import (
    CancelRun,
    CreateThread,
    EnsureAssistant,
    RunRef,
    RunSnapshot,
    StartRun,
    SubmitToolOutputs,
    WaitForRun,
)

IDEMPOTENCY_KEY = "idempotency_key"
SPEC_HASH = "spec_hash"
"""Metadata of the assistants ensured from a spec; only ours carry it (also untagged old ones)."""
SETTLED = frozenset(
    {"requires_action", "completed", "failed", "cancelled", "expired", "incomplete"}
)
TERMINAL = SETTLED - {"requires_action"}


class AssistantsBackend:
    """The run steps on the Assistants API: assistants, threads, runs and tool outputs."""

    def __init__(
        self,
        client: AsyncOpenAI,
        tools: ToolRegistry,
        poll_interval: float = 0.25,
        max_poll_interval: float = 2.0,
        batch_seconds: float = BATCH_SECONDS,
    ) -> None:
        self.client = client
        self.reader = RunReader(client)
        self.tools = tools
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.batch_seconds = batch_seconds

    async def ensure_assistant(self, request: EnsureAssistant) -> str:
        """The id of our oldest assistant made from exactly this spec for this owner (the
        tenant, or none), created if there is none. An assistant is never changed: another
        spec, or another tenant's same spec, is another assistant, so no run's instructions,
        tools or stores change under it. Callers racing to create it all converge on the
        oldest; the extras are deleted."""
        spec = request.spec
        params: dict[str, Any] = spec.model_dump(exclude={"tools", "metadata"}, exclude_none=True)
        params["tools"] = resolve_tools(self.tools.spec_of, spec.tools, "assistants")
        digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:32]
        params["metadata"] = owned_metadata({**spec.metadata, SPEC_HASH: digest}, request.tenant)
        async with heartbeating():
            with api_errors(f"ensuring assistant {spec.name!r}"):
                found = await self._assistants_of(digest, request.tenant)
                if not found:
                    await self.client.beta.assistants.create(**params)
                    found = await self._assistants_of(digest, request.tenant)
                oldest, *extras = sorted(found, key=lambda a: (a.created_at, a.id))
                for extra in extras:
                    with contextlib.suppress(openai.NotFoundError):
                        await self.client.beta.assistants.delete(extra.id)
        return oldest.id

    async def _assistants_of(self, digest: str, tenant: str | None) -> list[Assistant]:
        """Ours made from the spec with this hash for `tenant` (those made before tagging
        carry only the spec hash)."""
        return [
            assistant
            async for assistant in self.client.beta.assistants.list(limit=100)
            if (metadata := assistant.metadata or {}).get(SPEC_HASH) == digest
            and metadata.get(TENANT_KEY) == tenant
            and (is_owned(metadata) or OWNER_KEY not in metadata)
        ]

    async def create_thread(self, request: CreateThread) -> str:
        """An empty thread. A retry after a lost reply leaves one empty thread behind: no
        message or run is ever duplicated, because those come with the run."""
        with api_errors("creating a thread"):
            metadata = owned_metadata(request.metadata, request.tenant)
            created = self.client.beta.threads.create(metadata=metadata)
            thread, _ = await despite_cancel(created)  # its id reaches the workflow either way
        return checked(thread).id

    async def start_run(self, request: StartRun) -> RunSnapshot:
        thread_id = request.thread_id
        assert thread_id is not None, "the workflow creates the thread first"
        async with heartbeating(), TextPublisher(request.stream, self.batch_seconds) as text:
            return await self._start_run(thread_id, request, text)

    async def _start_run(
        self, thread_id: str, request: StartRun, text: TextPublisher
    ) -> RunSnapshot:
        with api_errors(f"starting a run on {thread_id}"):
            if activity.info().attempt > 1:
                earlier = await self._find_run(thread_id, request.idempotency_key)
                if earlier is not None:
                    return await self._settle(earlier)
            create = self.client.beta.threads.runs.with_raw_response.create(
                thread_id,
                assistant_id=request.assistant_id,
                additional_messages=[message_param(m) for m in request.messages],  # type: ignore[misc]
                stream=True,
                **self._run_params(request),
            )
            try:
                stream, cancelled = await despite_cancel(untyped(create))
            except openai.BadRequestError as err:
                ours = await self._own_active_run(thread_id, request.idempotency_key, err)
                if ours is None:
                    raise
                return await self._settle(ours)
            async with stream:
                if cancelled:  # the run exists now: the workflow's cancel finds it by its key
                    raise asyncio.CancelledError("cancelled while the run was being created")
                doing = f"following the run on {thread_id}"
                return await self._follow(stream, doing, text, from_creation=True)

    async def _own_active_run(
        self, thread_id: str, key: str, err: openai.BadRequestError
    ) -> Run | None:
        """The thread's active run, if an earlier attempt of ours created it: a request the API
        committed only after our look-up (a dead worker's, say) must be adopted, not repeated."""
        active = active_run_id(err)
        if active is None:
            return None
        run = await self._retrieve(RunRef(thread_id=thread_id, run_id=active))
        return run if (run.metadata or {}).get(IDEMPOTENCY_KEY) == key else None

    async def wait_for_run(self, request: WaitForRun) -> RunSnapshot:
        async with heartbeating():
            with api_errors(f"waiting for {request.run.run_id}"):
                run = await self._retrieve(request.run)
                return await self._settle(run, TERMINAL if request.until_terminal else SETTLED)

    async def submit_tool_outputs(self, request: SubmitToolOutputs) -> RunSnapshot:
        async with heartbeating(), TextPublisher(request.stream, self.batch_seconds) as text:
            return await self._submit_tool_outputs(request, text)

    async def _submit_tool_outputs(
        self, request: SubmitToolOutputs, text: TextPublisher
    ) -> RunSnapshot:
        ref = request.run
        ids = sorted(o.tool_call_id for o in request.tool_outputs)
        with api_errors(f"submitting tool outputs to {ref.run_id}"):
            run = await self._retrieve(ref) if activity.info().attempt > 1 else None
            if run is not None and required_call_ids(run) != ids:
                return await self._settle(run)  # an earlier attempt's submission was accepted
            try:
                submit = self.client.beta.threads.runs.with_raw_response.submit_tool_outputs(
                    ref.run_id,
                    thread_id=ref.thread_id,
                    tool_outputs=[o.model_dump() for o in request.tool_outputs],  # type: ignore[misc]
                    stream=True,
                )
                submitted = await untyped(submit)
            except openai.BadRequestError:
                run = await self._retrieve(ref)
                if required_call_ids(run) == ids:
                    raise
                return await self._settle(run)  # expired or cancelled meanwhile
            async with submitted:
                return await self._follow(submitted, f"following {ref.run_id}", text)

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

    async def thread_exists(self, thread_id: str) -> bool:
        with api_errors(f"looking up {thread_id}"):
            try:
                await self.client.beta.threads.retrieve(thread_id)
            except openai.NotFoundError:
                return False
        return True

    async def delete_own_thread(self, thread_id: str) -> bool:
        """Delete the thread if the calling workflow (or one of a conversation's runs) made
        it; False if it did not, or the thread was gone already."""
        with api_errors(f"looking up {thread_id}"):
            try:
                thread = await self.client.beta.threads.retrieve(thread_id)
            except openai.NotFoundError:
                return False
        return made_by_caller(thread.metadata) and await self.delete_thread(thread_id)

    async def delete_thread(self, thread_id: str) -> bool:
        """Delete a thread and the files the model generated in it; False if it was already
        gone."""
        with api_errors(f"deleting {thread_id}"):
            try:
                await self._delete_generated_files(thread_id)
                await self.client.beta.threads.delete(thread_id)
            except openai.NotFoundError:
                return False
        return True

    async def _delete_generated_files(self, thread_id: str) -> None:
        """The files the code interpreter generated in a thread (`assistants_output`: made for
        the thread's runs, never a file someone uploaded)."""
        listed = self.client.beta.threads.messages.list(thread_id, limit=100)
        file_ids = {f for m in [m async for m in listed] for f in run_message(m).file_ids}
        for file_id in file_ids:
            with contextlib.suppress(openai.NotFoundError):
                if (await self.client.files.retrieve(file_id)).purpose == "assistants_output":
                    await self.client.files.delete(file_id)

    def _run_params(self, request: StartRun) -> dict[str, Any]:
        params = {k: v for k, v in request.overrides.items() if v is not None}
        if "tools" in params:
            params["tools"] = resolve_tools(self.tools.spec_of, params["tools"], "assistants")
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
            watch(run.id, run.status)
            delay = asked if asked is not None else min(delay * 1.5, self.max_poll_interval)
        return await self.reader.snapshot(run)

    async def _follow(
        self, events: Events, doing: str, text: TextPublisher, from_creation: bool = False
    ) -> RunSnapshot:
        """Follow a run's event stream until it needs outputs or ends, publishing its text. A
        stream that began with the run carried every message the run wrote: no listing."""
        followed = await read_run_events(events, doing, text)
        run = validated(Run, followed.run)
        if run.status not in SETTLED:  # the stream ended early: the run goes on without us
            return await self._settle(run)
        if not from_creation:
            return await self.reader.snapshot(run)
        return await self.reader.snapshot(run, [validated(Message, m) for m in followed.messages])
