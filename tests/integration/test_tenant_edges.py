"""The tenant boundary at the gateway's edges: what only looks like a tenant's is not its own,
and malformed headers are refused naming them (never a 500)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx2 as httpx
import pytest
from temporalio.client import Client, Interceptor, OutboundInterceptor, QueryWorkflowInput

from workers.client import follow, send_message
from workers.settings import Settings
from workflows.contracts import CancelRequest, ThreadConfig
from workflows.run.progress import PROGRESS_QUERY
from workflows.run.workflow import AssistantRun

from .conftest import Assistant, ask, start
from .gateway_fixtures import serving
from .test_gateway import SLOW, conversation_config, run_body


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


async def test_a_tenant_holds_at_most_its_share_of_event_streams(
    client: Client, settings: Settings, worker: None
) -> None:
    assistant = {"name": "streamer", "model": "gpt-4o"}
    capped = settings.model_copy(update={"api_max_streams_per_tenant": 2})
    async with (
        serving(client, capped) as gateway,
        gateway.as_tenant("acme") as acme,
        gateway.as_tenant("globex") as globex,
    ):
        slow = run_body(assistant, f"{SLOW} busy")
        run_id = (await acme.post("/v1/runs", json=slow)).json()["id"]
        url = f"/v1/runs/{run_id}/events"
        async with acme.stream("GET", url) as one, acme.stream("GET", url) as two:
            assert (one.status_code, two.status_code) == (200, 200)
            refused = await acme.get(url)
            assert refused.status_code == 429, refused.text
            assert refused.json()["error"]["code"] == "too_many_streams"
            key = f"k{uuid.uuid4().hex[:8]}"
            body = {"message": {"content": "hi"}, "config": conversation_config(assistant)}
            streamed = await acme.post(
                f"/v1/conversations/{key}/messages",
                json=body,
                headers={"Accept": "text/event-stream"},
            )
            assert streamed.status_code == 429
            theirs = (await globex.post("/v1/runs", json=slow)).json()["id"]
            async with globex.stream("GET", f"/v1/runs/{theirs}/events") as other:
                assert other.status_code == 200  # the cap is each tenant's own
            await globex.post(f"/v1/runs/{theirs}/cancel")
        for _ in range(100):  # the closed streams gave their slots back
            async with acme.stream("GET", url) as again:
                if again.status_code == 200:
                    break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("a stream slot was never given back")
        await acme.post(f"/v1/runs/{run_id}/cancel")


class CountedQueries(Interceptor):
    """Counts the progress queries a client makes (what a follower costs)."""

    def __init__(self) -> None:
        self.count = 0

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        counter = self

        class Counting(OutboundInterceptor):
            async def query_workflow(self, input: QueryWorkflowInput) -> Any:
                counter.count += input.query == PROGRESS_QUERY
                return await super().query_workflow(input)

        return Counting(next)


async def test_a_follower_of_a_run_waiting_for_a_person_costs_about_a_query_a_second(
    client: Client, task_queue: str, worker: None, assistant: Assistant
) -> None:
    counted = CountedQueries()
    config = client.config()
    config["interceptors"] = [counted]
    follower = Client(**config)
    handle = await start(
        client, task_queue, ask(assistant, 'call issue_refund with {"order_id": "Q-1"}')
    )
    seen: list[str] = []

    async def following() -> None:
        async for event in follow(follower, handle.id):
            seen.append(event.type)

    task = asyncio.create_task(following())
    for _ in range(200):
        if "approval.requested" in seen:
            break
        await asyncio.sleep(0.05)
    before = counted.count
    await asyncio.sleep(4)
    idle = counted.count - before
    await handle.execute_update(AssistantRun.cancel, CancelRequest(reason="enough"))
    await asyncio.wait_for(task, 30)  # to the run's last event
    assert seen[-1] == "run.ended"
    assert idle <= 12, f"{idle} progress queries in 4 s of waiting (50 ms polls make 80)"
