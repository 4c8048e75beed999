"""`/v1/runs`: start a run (idempotently), read it, follow it, cancel it, answer its external
tools and decide its approvals."""

from __future__ import annotations

import hashlib
import re
from typing import Annotated

from fastapi import APIRouter, Body, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowHandle,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from workers.gateway import sse
from workers.gateway.auth import Tenant
from workers.gateway.errors import ApiError, ErrorBody, not_found
from workers.gateway.models import ApprovalBody, RunView
from workers.gateway.objects import run_fields
from workers.gateway.tenancy import find, is_tenants_run, owned, run_workflow_id
from workers.gateway.views import run_view
from workers.settings import Settings
from workflows.common import RunPhase
from workflows.contracts import (
    ApprovalDecision,
    CancelRequest,
    RunRequest,
    RunResult,
    RunState,
    SubmitToolOutputsRequest,
)
from workflows.run.workflow import AssistantRun
from workflows.search_attributes import TENANT

REQUEST_HASH = "gateway_request_sha256"
"""Memo of a run started with an Idempotency-Key: the request it was started with."""
RUNNING = WorkflowExecutionStatus.RUNNING
ERRORS = {
    400: {"model": ErrorBody},
    401: {"model": ErrorBody},
    404: {"model": ErrorBody},
    409: {"model": ErrorBody},
}

router = APIRouter(prefix="/v1/runs", tags=["runs"], responses=ERRORS)  # type: ignore[arg-type]


def _client(request: Request) -> Client:
    client: Client = request.app.state.client
    return client


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@router.post("", status_code=201, response_model=RunView)
async def start_run(
    body: RunRequest,
    tenant: Tenant,
    request: Request,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(description="the same key starts one run: later requests get that run (200)"),
    ] = None,
) -> RunView:
    """Start a run. With `Idempotency-Key`, a second request with the key returns the first
    one's run (200) instead of starting another, also after it ended; with another body it is
    refused (409)."""
    client, settings = _client(request), _settings(request)
    given = body.model_dump(mode="json", exclude_unset=True)
    await request.app.state.ownership.check(tenant, run_fields(given))
    workflow_id = run_workflow_id(tenant, idempotency_key)
    digest = hashlib.sha256(body.model_dump_json().encode()).hexdigest()
    what = f"run {workflow_id}"
    if idempotency_key is not None and (existing := await find(client, workflow_id, what)):
        return await _same_request(client, settings, existing, digest, response)
    try:
        await client.start_workflow(
            AssistantRun.run,
            body,
            id=workflow_id,
            task_queue=settings.temporal_task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=TypedSearchAttributes([SearchAttributePair(TENANT, tenant)]),
            memo={REQUEST_HASH: digest},
            static_summary=body.summary(),
        )
    except WorkflowAlreadyStartedError:  # another request with the key won the race
        existing = await owned(client, tenant, workflow_id, what)
        return await _same_request(client, settings, existing, digest, response)
    return RunView(
        id=workflow_id,
        status="running",
        phase=RunPhase.creating,
        closed=False,
        state=RunState(phase=RunPhase.creating),
        ui_url=settings.workflow_ui_url(workflow_id),
    )


async def _same_request(
    client: Client,
    settings: Settings,
    existing: WorkflowExecutionDescription,
    digest: str,
    response: Response,
) -> RunView:
    memo = await existing.memo()
    if memo.get(REQUEST_HASH) != digest:
        raise ApiError(
            409,
            f"Idempotency-Key: run {existing.id} was started with another request body",
            "idempotency_key_reused",
            "Idempotency-Key",
        )
    response.status_code = 200
    return await run_view(client, settings, existing)


@router.get("/{run_id:path}/events", response_class=StreamingResponse)
async def run_events(
    run_id: str,
    tenant: Tenant,
    request: Request,
    from_offset: Annotated[int | None, Query(ge=0, description="the first event's offset")] = None,
    last_event_id: Annotated[
        str | None, Header(description="resume after this event (what EventSource sends)")
    ] = None,
) -> StreamingResponse:
    """The run's progress as Server-Sent Events, until `run.ended`: `id` is the event's
    offset, `event` its type, `data` the event. Resume with `Last-Event-ID` (or
    `?from_offset=`)."""
    await _owned_run(request, tenant, run_id)
    start = from_offset or 0
    if last_event_id is not None:
        if not re.fullmatch(r"[0-9]{1,18}", last_event_id.strip()):
            raise ApiError(
                400,
                "Last-Event-ID: an event offset (digits 0-9) is expected",
                param="Last-Event-ID",
            )
        start = int(last_event_id) + 1
    give_back = request.app.state.streams.take(tenant)
    return sse.stream(sse.run_events(_client(request), run_id, start), give_back)


@router.post("/{run_id:path}/cancel", response_model=RunState)
async def cancel_run(
    run_id: str,
    tenant: Tenant,
    request: Request,
    body: Annotated[CancelRequest | None, Body()] = None,
) -> RunState:
    """Cancel the run at the API; answers once it is terminal (with the status that won)."""
    handle = await _running_run(request, tenant, run_id)
    state: RunState = await handle.execute_update(AssistantRun.cancel, body or CancelRequest())
    return state


@router.post("/{run_id:path}/tool_outputs", response_model=RunState)
async def submit_tool_outputs(
    run_id: str, tenant: Tenant, request: Request, body: SubmitToolOutputsRequest
) -> RunState:
    """Outputs of the run's external tools (`external=True`); its state afterwards."""
    handle = await _running_run(request, tenant, run_id)
    await handle.execute_update(AssistantRun.submit_tool_outputs, body)
    state: RunState = await handle.query(AssistantRun.state)
    return state


@router.post("/{run_id:path}/approvals/{call_id}", response_model=RunState)
async def decide_approval(
    run_id: str, call_id: str, tenant: Tenant, request: Request, body: ApprovalBody
) -> RunState:
    """Approve or deny a tool call that waits for a person (phase `awaiting_approval`,
    `state.pending_approvals`). Refused (409, naming why) for a call that does not wait, was
    decided already, or a run that ended."""
    handle = await _running_run(request, tenant, run_id)
    decision = ApprovalDecision(call_id=call_id, approved=body.approved, reason=body.reason)
    state: RunState = await handle.execute_update(AssistantRun.decide_approval, decision)
    return state


@router.get("/{run_id:path}", response_model=RunView)
async def get_run(run_id: str, tenant: Tenant, request: Request) -> RunView:
    """The run: its `state` while it runs, its `result` once it has ended."""
    described = await _owned_run(request, tenant, run_id)
    return await run_view(_client(request), _settings(request), described)


async def _owned_run(request: Request, tenant: str, run_id: str) -> WorkflowExecutionDescription:
    if not is_tenants_run(tenant, run_id):
        raise not_found(f"run {run_id}")
    return await owned(_client(request), tenant, run_id, f"run {run_id}")


async def _running_run(
    request: Request, tenant: str, run_id: str
) -> WorkflowHandle[AssistantRun, RunResult]:
    described = await _owned_run(request, tenant, run_id)
    if described.status != RUNNING:
        raise ApiError(409, f"run {run_id} has already ended", "already_ended")
    return _client(request).get_workflow_handle_for(AssistantRun.run, run_id)
