"""`/v1/conversations/{key}`: send a message (starting the conversation if needed) and get
its answer, whole or streamed; read a conversation; close it. The tenant's conversation `key`
is the workflow `thread-{tenant}.{key}`."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateHandle,
    WorkflowUpdateStage,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from workers.client import reopening, send_again, thread_workflow_id
from workers.follow import answer_progress, current_run_number
from workers.gateway import sse
from workers.gateway.auth import Tenant
from workers.gateway.errors import ApiError, invalid_message, update_refused, validation_error
from workers.gateway.models import ConversationMessage
from workers.gateway.objects import Named, named_objects, run_fields
from workers.gateway.runs import ERRORS
from workers.gateway.tenancy import (
    KEY_PATTERN,
    conversation_key,
    find,
    message_update_id,
    owned,
    tenant_of,
)
from workers.settings import Settings
from workflows.contracts import CloseThread, RunResult, ThreadConfig, ThreadMessage, ThreadState
from workflows.search_attributes import TENANT
from workflows.thread.requests import run_request
from workflows.thread.workflow import AssistantThread

RESEND_FOR = timedelta(minutes=1)
"""How long a message refused by a conversation continuing as new (or closing, when it can
be started again) is sent again."""
Key = Annotated[str, Path(pattern=KEY_PATTERN, description="your conversation's key")]

router = APIRouter(prefix="/v1/conversations", tags=["conversations"], responses=ERRORS)  # type: ignore[arg-type]


@router.post(
    "/{key}/messages",
    response_model=RunResult,
    responses={200: {"content": {sse.MEDIA_TYPE: {}}, "description": "the answer (JSON or SSE)"}},
)
async def send_message(
    key: Key,
    body: ConversationMessage,
    tenant: Tenant,
    request: Request,
    accept: Annotated[str | None, Header()] = None,
    idempotency_key: Annotated[
        str | None,
        Header(
            description="the same key sends the message once: a request sent again gets "
            "the first one's answer"
        ),
    ] = None,
) -> Any:
    """Send a message and wait for its answer (the `RunResult`). `config` starts the
    conversation if it is not open. With `Accept: text/event-stream` the answer streams
    as Server-Sent Events: the progress events of the conversation's runs from the one
    answering now until the one answering this message (each with its `run`), then
    `event: answer` with the `RunResult`."""
    client, settings = request.app.state.client, request.app.state.settings
    update_id = message_update_id(idempotency_key)
    await request.app.state.ownership.check(tenant, _named(body))
    internal = conversation_key(tenant, key)
    config = await _config(client, tenant, key, body)
    streaming = sse.MEDIA_TYPE in (accept or "")
    give_back = request.app.state.streams.take(tenant) if streaming else None
    try:
        first_run = await current_run_number(client, internal) if streaming else 0
        sending = Sending(tenant, internal, update_id, body.message, config)
        update = await _accepted(client, settings, sending)
    except BaseException:
        if give_back is not None:
            give_back()
        raise
    if give_back is None:
        result: RunResult = await update.result()
        return JSONResponse(result.model_dump(mode="json"))
    return sse.stream(_answer_events(client, internal, first_run, update), give_back)


@router.get("/{key}", response_model=ThreadState)
async def get_conversation(key: Key, tenant: Tenant, request: Request) -> ThreadState:
    """The conversation's state (also once it has closed)."""
    client: Client = request.app.state.client
    handle = await _handle(client, tenant, key)
    state: ThreadState = await handle.query(AssistantThread.state)
    return state.model_copy(update={"key": key})


@router.delete("/{key}", response_model=ThreadState)
async def close_conversation(
    key: Key,
    tenant: Tenant,
    request: Request,
    delete_thread: Annotated[
        bool | None, Query(description="delete the API thread too (default: the config's)")
    ] = None,
) -> ThreadState:
    """Close the conversation: what is queued is answered, then it ends."""
    client: Client = request.app.state.client
    handle = await _handle(client, tenant, key, must_be_open=True)
    state = await handle.execute_update(
        AssistantThread.close, CloseThread(delete_thread=delete_thread)
    )
    return state.model_copy(update={"key": key})


async def _handle(
    client: Client, tenant: str, key: str, must_be_open: bool = False
) -> WorkflowHandle[AssistantThread, ThreadState]:
    workflow_id = thread_workflow_id(conversation_key(tenant, key))
    described = await owned(client, tenant, workflow_id, f"conversation {key}")
    if must_be_open and described.status != WorkflowExecutionStatus.RUNNING:
        raise ApiError(409, f"conversation {key} is not open", "conversation_closed")
    return client.get_workflow_handle_for(AssistantThread.run, workflow_id)


def _named(body: ConversationMessage) -> list[Named]:
    """The objects a message and its config name (refusing the operator's fields)."""
    message = body.message
    named = named_objects({"attachments": message.model_dump()["attachments"]}, "message.")
    named += run_fields(message.overrides, "message.overrides.")
    if body.config is not None:
        config = body.config.model_dump(mode="json", exclude_unset=True)
        named += named_objects(config, "config.")
        named += run_fields(config.get("defaults") or {}, "config.defaults.")
    return named


async def _config(
    client: Client, tenant: str, key: str, body: ConversationMessage
) -> ThreadConfig | None:
    """The config to start the conversation with (None: it must be open). A conversation
    that is open answers with its own assistant: a config naming another is refused."""
    workflow_id = thread_workflow_id(conversation_key(tenant, key))
    what = f"conversation {key}"
    described = await find(client, workflow_id, what)
    running = described is not None and described.status == WorkflowExecutionStatus.RUNNING
    mine = described is not None and await tenant_of(client, described, what) == tenant
    if running and not mine:  # a message sent "with start" would join it
        raise ApiError(
            409,
            f"conversation {key}: its workflow id {workflow_id} is taken by a conversation "
            "that is not this tenant's (one the CLI started): use another key",
            "key_in_use",
        )
    open_ = running and mine
    if body.config is None:
        if not open_:
            raise ApiError(
                404,
                f"no open conversation {key}: send `config` (who answers) to start it",
                "conversation_not_open",
                "config",
            )
        return None
    fields = {**body.config.model_dump(exclude_unset=True), "key": conversation_key(tenant, key)}
    try:
        config = ThreadConfig.model_validate(fields)
    except ValidationError as err:
        raise validation_error(list(err.errors()), "config") from None
    try:  # before anything is started: the conversation would refuse it, but stay open
        run_request(config, body.message, None, None)
    except ApplicationError as err:
        raise invalid_message(err.message) from None
    if open_:
        state = await client.get_workflow_handle_for(AssistantThread.run, workflow_id).query(
            AssistantThread.state
        )
        if not state.answers_like(config):
            raise ApiError(
                409,
                f"config: conversation {key} is answered by another assistant; send without "
                "`config`, or close it first",
                "another_assistant",
                "config",
            )
    return config


@dataclass(frozen=True)
class Sending:
    """A message on its way to a conversation: sent again under the same update id."""

    tenant: str
    internal_key: str
    update_id: str
    message: ThreadMessage
    config: ThreadConfig | None


async def _accepted(
    client: Client, settings: Settings, sending: Sending
) -> WorkflowUpdateHandle[RunResult]:
    """The message, accepted by the conversation (queued in order): sent again, under its
    update id (so the server takes it once), while the conversation continues as new (or
    closes, when `config` can start it again), while the server holds as many of its
    messages waiting for answers as it allows (its limit on in-flight updates), and when
    the server aborted the update before the workflow took it in (unavailable)."""
    workflow_id = thread_workflow_id(sending.internal_key)
    config = sending.config
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RESEND_FOR.total_seconds()
    delay = 0.05
    while True:
        try:
            if config is None:
                handle = client.get_workflow_handle_for(AssistantThread.run, workflow_id)
                return await handle.start_update(
                    AssistantThread.send_message,
                    sending.message,
                    id=sending.update_id,
                    wait_for_stage=WorkflowUpdateStage.ACCEPTED,
                )
            start = WithStartWorkflowOperation(
                AssistantThread.run,
                await reopening(client, config),
                id=workflow_id,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                task_queue=settings.temporal_task_queue,
                search_attributes=TypedSearchAttributes(
                    [SearchAttributePair(TENANT, sending.tenant)]
                ),
                static_summary=config.summary(),
            )
            return await client.start_update_with_start_workflow(
                AssistantThread.send_message,
                sending.message,
                id=sending.update_id,
                start_workflow_operation=start,
                wait_for_stage=WorkflowUpdateStage.ACCEPTED,
            )
        except (WorkflowUpdateFailedError, RPCError) as err:
            if not send_again(err, closing_too=config is not None) or loop.time() > deadline:
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, 1.0)


async def _answer_events(
    client: Client, internal_key: str, first_run: int, update: WorkflowUpdateHandle[RunResult]
) -> AsyncIterator[bytes]:
    answer = asyncio.ensure_future(update.result())
    try:
        async for run_id, event in answer_progress(client, internal_key, first_run, answer):
            yield sse.progress_message(event, run=run_id)
        try:
            result = await answer
        except WorkflowUpdateFailedError as err:
            refused = update_refused(err)
            yield sse.error_message(refused.message, refused.code)
            return
        yield sse.message("answer", json.dumps(result.model_dump(mode="json")))
    finally:
        answer.cancel()
        with contextlib.suppress(BaseException):
            await answer
