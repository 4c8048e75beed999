"""`durable-assistants serve` over real HTTP: runs (start, poll, cancel, idempotency, events),
conversations, the API description. Tenancy and refusals: `test_gateway_security.py`;
approvals: `test_gateway_approvals.py`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx2 as httpx
import pytest
from temporalio.client import Client

from workflows.contracts import RunResult
from workflows.run.workflow import AssistantRun

from .conftest import Assistant, Counters, Seen, ask
from .gateway_fixtures import Gateway, sse_events

SLOW = "[[emulator in_progress=30]]"
LONG = " ".join(f"word{i}" for i in range(60))


def run_body(assistant: Assistant, text: str, **fields: Any) -> dict[str, Any]:
    """A RunRequest as JSON, as a caller in any language sends it."""
    return ask(assistant, text, **fields).model_dump(mode="json", exclude_defaults=True)


async def until_closed(http: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    for _ in range(600):
        view: dict[str, Any] = (await http.get(f"/v1/runs/{run_id}")).json()
        if view["closed"]:
            return view
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} never ended: {view}")


async def until_view(
    http: httpx.AsyncClient, run_id: str, ready: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """GET the run until `ready(view)`."""
    for _ in range(600):
        view: dict[str, Any] = (await http.get(f"/v1/runs/{run_id}")).json()
        if ready(view):
            return view
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} never got there: {view}")


@pytest.mark.parametrize("probe", ["/healthz", "/livez", "/readyz"])
async def test_the_probes_answer_without_a_token(gateway: Gateway, probe: str) -> None:
    async with gateway.as_tenant(None) as anonymous:
        response = await anonymous.get(probe)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_a_run_is_started_polled_until_it_ends_and_shows_its_result(
    acme: httpx.AsyncClient, assistant: Assistant
) -> None:
    started = await acme.post("/v1/runs", json=run_body(assistant, "What is the weather in Oslo?"))
    assert started.status_code == 201, started.text
    view = started.json()
    assert view["id"].startswith("run-acme.")
    assert (view["status"], view["closed"]) == ("running", False)
    assert view["ui_url"].endswith(f"/workflows/{view['id']}")
    ended = await until_closed(acme, view["id"])
    assert (ended["status"], ended["phase"], ended["state"]) == ("completed", "completed", None)
    assert "Oslo" in ended["result"]["output_text"]
    assert [call["name"] for call in ended["result"]["tool_calls"]] == ["get_weather"]


async def test_a_running_run_shows_its_state_and_is_cancelled(
    acme: httpx.AsyncClient, assistant: Assistant, seen: Seen, client: Client
) -> None:
    started = await acme.post("/v1/runs", json=run_body(assistant, f"{SLOW} think long"))
    run_id = started.json()["id"]
    await seen.until_run_created(client.get_workflow_handle_for(AssistantRun.run, run_id))
    running = (await acme.get(f"/v1/runs/{run_id}")).json()
    assert (running["status"], running["closed"], running["result"]) == ("running", False, None)
    assert running["state"]["phase"] == running["phase"]
    cancelled = await acme.post(f"/v1/runs/{run_id}/cancel", json={"reason": "changed my mind"})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["phase"] == "cancelled"
    ended = await until_closed(acme, run_id)
    assert ended["status"] == "cancelled"
    assert ended["result"]["cancel_reason"] == "changed my mind"
    assert seen.cancels_requested() == 1
    again = await acme.post(f"/v1/runs/{run_id}/cancel")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_ended"


async def test_the_same_idempotency_key_starts_one_run_also_after_it_ended(
    acme: httpx.AsyncClient, assistant: Assistant, client: Client, counters: Counters, seen: Seen
) -> None:
    body = run_body(assistant, "What is the weather in Rome?")
    key = {"Idempotency-Key": "order-7-question"}
    first, second = await asyncio.gather(
        acme.post("/v1/runs", json=body, headers=key),
        acme.post("/v1/runs", json=body, headers=key),
    )
    assert sorted([first.status_code, second.status_code]) == [200, 201]
    run_id = first.json()["id"]
    assert second.json()["id"] == run_id == "run-acme.order-7-question"
    ended = await until_closed(acme, run_id)
    after = await acme.post("/v1/runs", json=body, headers=key)
    assert after.status_code == 200
    assert after.json()["result"] == ended["result"]
    assert (await client.count_workflows(f'WorkflowId = "{run_id}"')).count == 1
    assert seen.api_runs(run_id, RunResult.model_validate(ended["result"])) == 1
    other = await acme.post("/v1/runs", json=run_body(assistant, "Something else"), headers=key)
    assert other.status_code == 409
    assert other.json()["error"]["param"] == "Idempotency-Key"


async def test_events_resume_after_a_dropped_connection_with_every_event_once_in_order(
    acme: httpx.AsyncClient, assistant: Assistant
) -> None:
    text = f"[[emulator delta_interval=0.05]] {LONG}"
    run_id = (await acme.post("/v1/runs", json=run_body(assistant, text))).json()["id"]
    async with acme.stream("GET", f"/v1/runs/{run_id}/events") as first:
        assert first.headers["content-type"].startswith("text/event-stream")
        # the connection drops at the first text delta, so the rest of the text comes after
        before = await sse_events(first, until="text.delta")
    last_id = before[-1][0]
    assert last_id is not None
    headers = {"Last-Event-ID": last_id}
    async with acme.stream("GET", f"/v1/runs/{run_id}/events", headers=headers) as second:
        after = await sse_events(second)
    async with acme.stream("GET", f"/v1/runs/{run_id}/events") as whole:
        everything = await sse_events(whole)
    assert before + after == everything
    assert [int(event_id or -1) for event_id, _, _ in everything] == list(range(len(everything)))
    assert [data["offset"] for _, _, data in everything] == list(range(len(everything)))
    assert everything[-1][1] == "run.ended"
    assert any(kind == "text.delta" for _, kind, _ in after)
    deltas = "".join(data["delta"] for _, kind, data in everything if kind == "text.delta")
    assert deltas == everything[-1][2]["result"]["output_text"]
    async with acme.stream("GET", f"/v1/runs/{run_id}/events?from_offset=3") as tail:
        assert await sse_events(tail) == everything[3:]


def conversation_config(assistant: Assistant) -> dict[str, Any]:
    return {"assistant_id": assistant} if isinstance(assistant, str) else {"assistant": assistant}


async def test_twenty_concurrent_messages_are_each_answered_once_in_order(
    acme: httpx.AsyncClient, assistant: Assistant, seen: Seen, client: Client
) -> None:
    config = conversation_config(assistant)

    async def send(number: int) -> dict[str, Any]:
        body = {"message": {"content": f"note {number} please"}, "config": config}
        response = await acme.post("/v1/conversations/team-20/messages", json=body)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    results = await asyncio.gather(*(send(number) for number in range(20)))
    for number, result in enumerate(results):
        assert result["status"] == "completed"
        assert f"note {number} please" in result["output_text"]
    transcript = await seen.conversation(RunResult.model_validate(results[0]))
    asked = [text for role, text in transcript if role == "user"]
    assert sorted(asked) == sorted(f"note {number} please" for number in range(20))
    assert [role for role, _ in transcript] == ["user", "assistant"] * 20
    for (_, question), (_, answer) in zip(transcript[::2], transcript[1::2], strict=True):
        assert question in answer
    state = (await acme.get("/v1/conversations/team-20")).json()
    assert (state["key"], state["runs_done"], state["queue_length"]) == ("team-20", 20, 0)
    by_run = {summary["workflow_id"]: summary["output_text"] for summary in state["recent"]}
    numbers = sorted(int(workflow_id.rsplit("-", 1)[1]) for workflow_id in by_run)
    assert numbers == list(range(11, 21))
    assert all(workflow_id.startswith("thread-acme.team-20/run-") for workflow_id in by_run)
    for _ in range(100):  # (visibility lags a moment behind)
        listed = {r.id async for r in client.list_workflows('Tenant = "acme"')}
        if set(by_run) <= listed:
            break
        await asyncio.sleep(0.05)
    assert set(by_run) <= listed, "a conversation's runs carry its tenant"


async def test_a_message_streams_its_answer_and_a_closed_conversation_needs_its_config(
    acme: httpx.AsyncClient, assistant: Assistant
) -> None:
    config = conversation_config(assistant)
    body = {"message": {"content": "What is the weather in Lima?"}, "config": config}
    headers = {"Accept": "text/event-stream"}
    async with acme.stream(
        "POST", "/v1/conversations/lima/messages", json=body, headers=headers
    ) as response:
        assert response.status_code == 200
        events = await sse_events(response)
    kinds = [kind for _, kind, _ in events]
    assert kinds[-1] == "answer"
    assert kinds.index("tool.started") < kinds.index("tool.finished") < kinds.index("run.ended")
    assert {data["run"] for _, _, data in events[:-1]} == {"thread-acme.lima/run-1"}
    answer = events[-1][2]
    assert "Lima" in answer["output_text"]
    text = "".join(data["delta"] for _, kind, data in events if kind == "text.delta")
    assert text == answer["output_text"]
    escaped = await acme.get("/v1/runs/thread-acme.lima%2Frun-1")  # the / as %2F
    assert escaped.json()["result"] == answer
    follow_up = {"message": {"content": "And tomorrow?"}}  # an open conversation: no config
    second = await acme.post("/v1/conversations/lima/messages", json=follow_up)
    assert second.status_code == 200, second.text
    assert second.json()["thread_id"] == answer["thread_id"]
    closed = await acme.delete("/v1/conversations/lima")
    assert closed.status_code == 200
    assert (closed.json()["key"], closed.json()["closing"]) == ("lima", True)
    for _ in range(200):
        refused = await acme.post("/v1/conversations/lima/messages", json=follow_up)
        if refused.status_code == 404:
            break
        await asyncio.sleep(0.05)
    assert refused.json()["error"]["param"] == "config"
    again = {**follow_up, "config": config}
    reopened = await acme.post("/v1/conversations/lima/messages", json=again)
    assert reopened.status_code == 200
    assert reopened.json()["thread_id"] == answer["thread_id"]


async def test_a_streamed_answer_whose_run_fails_as_a_workflow_still_ends(
    acme: httpx.AsyncClient, assistant: Assistant
) -> None:
    config = {**conversation_config(assistant), "defaults": {"tools": ["no_such_tool"]}}
    body = {"message": {"content": "Hello"}, "config": config}
    headers = {"Accept": "text/event-stream"}
    async with acme.stream(
        "POST", "/v1/conversations/broken/messages", json=body, headers=headers
    ) as response:
        events = await asyncio.wait_for(sse_events(response), timeout=60)
    ended = [data for _, kind, data in events if kind == "run.ended"]
    assert [data["result"] for data in ended] == [None]
    assert "no_such_tool" in ended[0]["error"]
    assert events[-1][1] == "answer"
    assert events[-1][2]["status"] == "failed"


async def test_a_run_whose_workflow_failed_shows_why(
    acme: httpx.AsyncClient, assistant: Assistant
) -> None:
    body = run_body(assistant, "Hello", tools=["no_such_tool"])
    run_id = (await acme.post("/v1/runs", json=body)).json()["id"]
    ended = await until_closed(acme, run_id)
    assert (ended["status"], ended["result"], ended["phase"]) == ("failed", None, None)
    assert ended["error"].startswith("tools: no registered tool named 'no_such_tool'")
    assert ended["ui_url"].endswith(run_id)
