"""Approvals through `POST /v1/runs/{id}/approvals/{call_id}`: approved, a call runs once;
denied or undecided in time it never runs; a second decision is refused with its reason."""

from __future__ import annotations

import uuid
from typing import Any

import httpx2 as httpx

from tests.integration.run_tools import REFUNDED

from .conftest import Assistant
from .gateway_fixtures import sse_events
from .test_gateway import run_body, until_closed, until_view


def refund(order: str) -> str:
    return f'call issue_refund with {{"order_id": "{order}"}}'


async def waiting_call(http: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    view = await until_view(http, run_id, lambda v: v["phase"] == "awaiting_approval")
    [call] = view["state"]["pending_approvals"]
    assert call["name"] == "issue_refund"
    return dict(call)


async def test_an_approved_call_runs_once_and_a_second_decision_is_refused(
    acme: httpx.AsyncClient, assistant: Assistant
) -> None:
    order = f"A-{uuid.uuid4().hex[:8]}"
    run_id = (await acme.post("/v1/runs", json=run_body(assistant, refund(order)))).json()["id"]
    call = await waiting_call(acme, run_id)
    assert REFUNDED.count(order) == 0
    url = f"/v1/runs/{run_id}/approvals/{call['id']}"
    approved = await acme.post(url, json={"approved": True, "reason": "checked the order"})
    assert approved.status_code == 200, approved.text
    assert approved.json()["pending_approvals"] == []
    again = await acme.post(url, json={"approved": False})
    assert again.status_code == 409
    error = again.json()["error"]
    assert error["param"] == "call_id"
    assert "already approved" in error["message"]
    ended = await until_closed(acme, run_id)
    assert ended["status"] == "completed"
    assert REFUNDED.count(order) == 1
    assert f"refunded {order}" in ended["result"]["tool_calls"][0]["output"]
    late = await acme.post(url, json={"approved": True})
    assert late.status_code == 409
    assert late.json()["error"]["code"] == "already_ended"


async def test_a_denied_call_never_runs_and_the_model_reads_why(
    acme: httpx.AsyncClient, assistant: Assistant
) -> None:
    order = f"D-{uuid.uuid4().hex[:8]}"
    run_id = (await acme.post("/v1/runs", json=run_body(assistant, refund(order)))).json()["id"]
    call = await waiting_call(acme, run_id)
    url = f"/v1/runs/{run_id}/approvals/{call['id']}"
    denied = await acme.post(url, json={"approved": False, "reason": "not this one"})
    assert denied.status_code == 200, denied.text
    ended = await until_closed(acme, run_id)
    assert ended["status"] == "completed"
    assert REFUNDED.count(order) == 0
    assert "not this one" in ended["result"]["tool_calls"][0]["output"]


async def test_an_undecided_call_is_denied_when_its_time_is_up(
    acme: httpx.AsyncClient, assistant: Assistant
) -> None:
    order = f"T-{uuid.uuid4().hex[:8]}"
    body = run_body(assistant, refund(order), approval_timeout_seconds=1)
    run_id = (await acme.post("/v1/runs", json=body)).json()["id"]
    call = await waiting_call(acme, run_id)
    ended = await until_closed(acme, run_id)
    assert REFUNDED.count(order) == 0
    assert "no decision within 1s" in ended["result"]["tool_calls"][0]["output"]
    async with acme.stream("GET", f"/v1/runs/{run_id}/events") as response:
        decided = [
            data for _, kind, data in await sse_events(response) if kind == "approval.decided"
        ]
    assert decided == [{**decided[0], "call_id": call["id"], "approved": False, "timed_out": True}]


async def test_a_decision_on_a_call_that_does_not_wait_is_refused_naming_why(
    acme: httpx.AsyncClient, assistant: Assistant
) -> None:
    body = run_body(assistant, f"[[emulator in_progress=30]] {refund('X-1')}")
    run_id = (await acme.post("/v1/runs", json=body)).json()["id"]
    refused = await acme.post(f"/v1/runs/{run_id}/approvals/call_nope", json={"approved": True})
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert (error["param"], error["type"]) == ("call_id", "conflict_error")
    assert "no tool call call_nope waits for approval" in error["message"]
    invalid = await acme.post(f"/v1/runs/{run_id}/approvals/call_nope", json={"approve": True})
    assert invalid.status_code == 400
    assert invalid.json()["error"]["param"] == "approve"
    expected = "approve: Extra inputs are not permitted; approved: Field required"
    assert invalid.json()["error"]["message"] == expected
    await acme.post(f"/v1/runs/{run_id}/cancel")
