"""The tenant boundary at the gateway's edges: what only looks like a tenant's is not its own,
and malformed headers are refused naming them (never a 500)."""

from __future__ import annotations

import asyncio
import uuid

import httpx2 as httpx
import pytest
from temporalio.client import Client

from workers.client import send_message
from workflows.contracts import ThreadConfig

from .conftest import Assistant
from .test_gateway import conversation_config, run_body


@pytest.mark.parametrize("last_event_id", ["²", "¹", "1e3", "-1", "0x10", "9" * 40])
async def test_a_malformed_last_event_id_is_a_400_naming_the_header(
    acme: httpx.AsyncClient, assistant: Assistant, last_event_id: str
) -> None:
    run_id = (await acme.post("/v1/runs", json=run_body(assistant, "Hello"))).json()["id"]
    header = last_event_id.encode("latin-1", errors="replace")  # as a browser may send it
    refused = await acme.get(f"/v1/runs/{run_id}/events", headers={b"Last-Event-ID": header})
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["param"] == "Last-Event-ID"


async def test_a_conversation_the_cli_started_under_a_tenants_prefix_is_not_that_tenants(
    acme: httpx.AsyncClient, assistant: Assistant, client: Client, task_queue: str
) -> None:
    key = f"x{uuid.uuid4().hex[:8]}"
    config = ThreadConfig.model_validate({"key": f"acme.{key}", **conversation_config(assistant)})
    answered = await send_message(client, task_queue, config, "a secret of the operator's")
    assert answered.status == "completed"

    for url in (f"/v1/conversations/{key}", f"/v1/runs/thread-acme.{key}/run-1"):
        response = await acme.get(url)
        assert response.status_code == 404, (url, response.text)
    message = {"content": "let me in"}
    for body in (
        {"message": message, "config": conversation_config(assistant)},
        {"message": message},
    ):
        joined = await acme.post(f"/v1/conversations/{key}/messages", json=body)
        assert joined.status_code == 409, joined.text
        assert joined.json()["error"]["code"] == "key_in_use"
    state = await client.get_workflow_handle(f"thread-acme.{key}").query("state")
    assert (state["runs_done"], state["queue_length"]) == (1, 0)


async def test_a_message_sent_again_with_its_idempotency_key_is_queued_once(
    acme: httpx.AsyncClient, assistant: Assistant
) -> None:
    key = f"k{uuid.uuid4().hex[:8]}"
    url = f"/v1/conversations/{key}/messages"
    body = {"message": {"content": "Only once"}, "config": conversation_config(assistant)}
    headers = {"Idempotency-Key": "msg-1"}
    first, again = await asyncio.gather(
        acme.post(url, json=body, headers=headers), acme.post(url, json=body, headers=headers)
    )
    assert (first.status_code, again.status_code) == (200, 200), (first.text, again.text)
    assert first.json() == again.json()
    later = await acme.post(url, json={"message": body["message"]}, headers=headers)
    assert later.json() == first.json()
    state = (await acme.get(f"/v1/conversations/{key}")).json()
    assert state["runs_done"] == 1
    other = await acme.post(
        url, json={"message": body["message"]}, headers={"Idempotency-Key": "msg-2"}
    )
    assert other.json()["run_id"] != first.json()["run_id"]
    bad = await acme.post(url, json=body, headers={"Idempotency-Key": "a b"})
    assert (bad.status_code, bad.json()["error"]["param"]) == (400, "Idempotency-Key")
