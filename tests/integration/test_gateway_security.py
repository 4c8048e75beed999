"""The gateway's guard rails over real HTTP: a tenant reaches only its own runs and
conversations (anything else is 404, as if it did not exist); a missing or wrong token, an
oversized body and an invalid one are refused before anything starts; the API describes
itself."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx2 as httpx
import pytest
from temporalio.client import Client

from workflows.search_attributes import TENANT

from .conftest import Assistant, Counters
from .gateway_fixtures import TOKENS, Gateway
from .test_gateway import SLOW, conversation_config, run_body


async def started_on(client: Client, task_queue: str) -> int:
    return (await client.count_workflows(f'TaskQueue = "{task_queue}"')).count


ROUTES = [
    ("GET", "/v1/runs/{run}", None),
    ("GET", "/v1/runs/{run}/events", None),
    ("POST", "/v1/runs/{run}/cancel", {"reason": "not yours"}),
    (
        "POST",
        "/v1/runs/{run}/tool_outputs",
        {"tool_outputs": [{"tool_call_id": "c", "output": "x"}]},
    ),
    ("POST", "/v1/runs/{run}/approvals/call_1", {"approved": True}),
    ("GET", "/v1/runs/{child}", None),
    ("GET", "/v1/runs/{child}/events", None),
    ("POST", "/v1/runs/{child}/cancel", None),
    ("POST", "/v1/runs/{child}/approvals/call_1", {"approved": False}),
    ("GET", "/v1/conversations/{key}", None),
    ("DELETE", "/v1/conversations/{key}", None),
    ("POST", "/v1/conversations/{key}/messages", {"message": {"content": "hi"}}),
]


@pytest.fixture
async def acme_things(
    acme: httpx.AsyncClient, assistant: Assistant
) -> AsyncIterator[dict[str, str]]:
    """acme's running run, and its open conversation with a run that answered."""
    run = (await acme.post("/v1/runs", json=run_body(assistant, f"{SLOW} busy"))).json()["id"]
    key = f"private-{uuid.uuid4().hex[:8]}"
    body = {"message": {"content": "hello"}, "config": conversation_config(assistant)}
    answered = await acme.post(f"/v1/conversations/{key}/messages", json=body)
    assert answered.status_code == 200, answered.text
    yield {"run": run, "child": f"thread-acme.{key}/run-1", "key": key}
    await acme.post(f"/v1/runs/{run}/cancel")
    await acme.delete(f"/v1/conversations/{key}")


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_another_tenant_gets_404_on_every_route(
    acme: httpx.AsyncClient,
    globex: httpx.AsyncClient,
    acme_things: dict[str, str],
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    url = path.format(**acme_things)
    refused = await globex.request(method, url, json=body)
    assert refused.status_code == 404, refused.text
    assert refused.json()["error"]["type"] == "not_found_error"
    assert refused.json()["error"]["message"].startswith("no ")  # as for what does not exist
    if method == "GET":  # and acme itself reaches it
        async with acme.stream(method, url) as owner:
            assert owner.status_code == 200
    state = (await acme.get(f"/v1/conversations/{acme_things['key']}")).json()
    assert (state["runs_done"], state["closing"]) == (1, False)
    run = (await acme.get(f"/v1/runs/{acme_things['run']}")).json()
    assert run["status"] == "running"


async def test_the_same_key_names_each_tenants_own_run_and_conversation(
    acme: httpx.AsyncClient, globex: httpx.AsyncClient, assistant: Assistant, client: Client
) -> None:
    key = {"Idempotency-Key": "shared-key"}
    ours = await acme.post("/v1/runs", json=run_body(assistant, "Hello"), headers=key)
    theirs = await globex.post("/v1/runs", json=run_body(assistant, "Hello"), headers=key)
    assert (ours.status_code, theirs.status_code) == (201, 201)
    assert (ours.json()["id"], theirs.json()["id"]) == (
        "run-acme.shared-key",
        "run-globex.shared-key",
    )
    described = await client.get_workflow_handle("run-globex.shared-key").describe()
    assert described.typed_search_attributes.get(TENANT) == "globex"
    body = {"message": {"content": "hello"}, "config": conversation_config(assistant)}
    for http in (acme, globex):
        assert (await http.post("/v1/conversations/same/messages", json=body)).status_code == 200
    thread = await client.get_workflow_handle("thread-globex.same").describe()
    assert thread.typed_search_attributes.get(TENANT) == "globex"
    assert (await acme.get("/v1/conversations/same")).json()["runs_done"] == 1


async def test_an_unknown_run_of_ones_own_tenant_is_404(acme: httpx.AsyncClient) -> None:
    for url in ("/v1/runs/run-acme.nothing", "/v1/runs/thread-acme.none/run-1/events"):
        response = await acme.get(url)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": TOKENS["acme"]},
        {"Authorization": "Basic YWNtZTpzZWNyZXQ="},
    ],
    ids=["missing", "wrong", "no-scheme", "basic"],
)
async def test_without_a_valid_token_nothing_is_started(
    gateway: Gateway,
    assistant: Assistant,
    client: Client,
    task_queue: str,
    counters: Counters,
    headers: dict[str, str],
) -> None:
    async with gateway.as_tenant(None) as anonymous:
        for method, url, body in [
            ("POST", "/v1/runs", run_body(assistant, "Hello")),
            ("POST", "/v1/conversations/k/messages", {"message": {"content": "hi"}}),
            ("GET", "/v1/runs/run-acme.x", None),
        ]:
            response = await anonymous.request(method, url, json=body, headers=headers)
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == "Bearer"
            assert response.json()["error"]["type"] == "authentication_error"
            assert TOKENS["acme"] not in response.text
    assert await started_on(client, task_queue) == 0
    assert counters.delta("runs_created") == 0


async def test_an_oversized_body_is_413_with_or_without_its_length(
    acme: httpx.AsyncClient, assistant: Assistant, client: Client, task_queue: str
) -> None:
    big = run_body(assistant, "x" * 200_000)
    big["messages"] *= 6  # over 1 MiB in all, each message within its own limit

    async def chunked() -> AsyncIterator[bytes]:
        text = json.dumps(big).encode()
        for start in range(0, len(text), 65536):
            yield text[start : start + 65536]

    with_length = await acme.post("/v1/runs", json=big)
    assert with_length.status_code == 413
    assert with_length.json()["error"]["code"] == "request_too_large"
    without_length = await acme.post(
        "/v1/runs", content=chunked(), headers={"Content-Type": "application/json"}
    )
    assert without_length.status_code == 413
    assert await started_on(client, task_queue) == 0


async def test_invalid_bodies_are_400_naming_the_field_and_start_nothing(
    acme: httpx.AsyncClient, assistant: Assistant, client: Client, task_queue: str
) -> None:
    cases: list[tuple[str, Any, str | None, str]] = [
        ("/v1/runs", b"{not json", None, "json_invalid"),
        ("/v1/runs", {**run_body(assistant, "Hi"), "modle": "gpt-4o"}, "modle", "extra_forbidden"),
        (
            "/v1/runs",
            {**run_body(assistant, "Hi"), "messages": [{}]},
            "messages[0].content",
            "missing",
        ),
        ("/v1/runs", {"messages": [{"content": "Hi"}]}, "assistant_id, assistant", "value_error"),
        (
            "/v1/conversations/k/messages",
            {"message": {"content": "hi"}, "config": {"assistant": {"name": "x"}}},
            "config.assistant.model",
            "missing",
        ),
        (
            "/v1/conversations/k/messages",
            {"message": {"content": "hi"}, "config": {}},
            "config",
            "value_error",
        ),
        (
            "/v1/conversations/k/messages",
            {
                "message": {"content": "hi", "overrides": {"temperature": 99}},
                "config": conversation_config(assistant),
            },
            "message.overrides.temperature",
            "invalid_message",
        ),
        (
            "/v1/conversations/k/messages",
            {
                "message": {"content": "hi", "overrides": {"model": "gpt-4o-mini"}},
                "config": {
                    **conversation_config(assistant),
                    "defaults": {"fallback_models": ["gpt-4o-mini"]},
                },
            },
            "message.fallback_models",
            "invalid_message",
        ),
        (
            "/v1/conversations/bad key!/messages",
            {"message": {"content": "hi"}},
            "key",
            "string_pattern_mismatch",
        ),
    ]
    for url, body, param, code in cases:
        if isinstance(body, bytes):
            response = await acme.post(
                url, content=body, headers={"Content-Type": "application/json"}
            )
        else:
            response = await acme.post(url, json=body)
        assert response.status_code == 400, (url, body, response.text)
        error = response.json()["error"]
        assert (error["param"], error["code"], error["type"]) == (
            param,
            code,
            "invalid_request_error",
        ), error
        if param:
            assert param in error["message"]
    bad_key = await acme.post(
        "/v1/runs", json=run_body(assistant, "Hi"), headers={"Idempotency-Key": "a b"}
    )
    assert bad_key.status_code == 400
    assert bad_key.json()["error"]["param"] == "Idempotency-Key"
    assert await started_on(client, task_queue) == 0


async def test_a_message_an_open_conversation_refuses_is_a_400_naming_its_field(
    acme: httpx.AsyncClient, assistant: Assistant
) -> None:
    key = f"k-{uuid.uuid4().hex[:8]}"
    body = {"message": {"content": "hello"}, "config": conversation_config(assistant)}
    assert (await acme.post(f"/v1/conversations/{key}/messages", json=body)).status_code == 200
    bad = {"message": {"content": "hi", "overrides": {"max_tool_rounds": -1}}}
    refused = await acme.post(f"/v1/conversations/{key}/messages", json=bad)
    assert refused.status_code == 400, refused.text
    error = refused.json()["error"]
    assert (error["param"], error["code"]) == (
        "message.overrides.max_tool_rounds",
        "invalid_message",
    )
    state = (await acme.get(f"/v1/conversations/{key}")).json()
    assert (state["runs_done"], state["closing"]) == (1, False)


async def test_the_api_describes_its_routes_and_serves_docs(gateway: Gateway) -> None:
    async with gateway.as_tenant(None) as anonymous:
        described = (await anonymous.get("/openapi.json")).json()
        docs = await anonymous.get("/docs")
    paths = described["paths"]
    assert set(paths) >= {
        "/healthz",
        "/v1/runs",
        "/v1/runs/{run_id}",
        "/v1/runs/{run_id}/events",
        "/v1/runs/{run_id}/cancel",
        "/v1/runs/{run_id}/tool_outputs",
        "/v1/runs/{run_id}/approvals/{call_id}",
        "/v1/conversations/{key}",
        "/v1/conversations/{key}/messages",
    }
    schemas = described["components"]["schemas"]
    assert {"RunRequest", "RunState", "RunResult", "ThreadMessage", "ThreadState"} <= set(schemas)
    assert "bearer" in str(described["components"]["securitySchemes"]).lower()
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
