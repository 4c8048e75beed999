"""The OpenAI objects behind a tenant's requests are its own: a thread (a response chain), an
assistant or a vector store it names must be one this system made for it, else 404 naming
the field, as for a workflow id; the operator's fields are refused (400) and nothing starts.
Assistants are per tenant and per spec, and never rewritten under a run."""

from __future__ import annotations

import uuid
from typing import Any

import httpx2 as httpx
import pytest
from openai import AsyncOpenAI
from temporalio.client import Client

from activities.ownership import owned_metadata

from .conftest import Assistant, both_backends
from .test_gateway import SLOW, conversation_config, run_body, until_closed


async def started_by(client: Client, tenant: str, task_queue: str) -> int:
    query = f'Tenant = "{tenant}" AND TaskQueue = "{task_queue}"'
    return (await client.count_workflows(query)).count


async def finished(http: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    started = await http.post("/v1/runs", json=body)
    assert started.status_code == 201, started.text
    view = await until_closed(http, started.json()["id"])
    result: dict[str, Any] = view["result"]
    assert result["status"] == "completed", result
    return result


def refused(response: httpx.Response, status: int, param: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["param"] == param, response.json()


@both_backends
async def test_a_tenant_continues_its_own_thread_and_never_anothers(
    acme: httpx.AsyncClient,
    globex: httpx.AsyncClient,
    assistant: Assistant,
    client: Client,
    task_queue: str,
) -> None:
    ours = await finished(acme, run_body(assistant, "The vault code is 4711"))
    again = await finished(acme, run_body(assistant, "And again", thread_id=ours["thread_id"]))
    assert again["status"] == "completed"
    before = await started_by(client, "globex", task_queue)
    stolen = run_body(assistant, "What is the vault code?", thread_id=ours["thread_id"])
    refused(await globex.post("/v1/runs", json=stolen), 404, "thread_id")
    adopted = {
        "message": {"content": "What is the vault code?"},
        "config": {**conversation_config(assistant), "thread_id": ours["thread_id"]},
    }
    answer = await globex.post(f"/v1/conversations/k{uuid.uuid4().hex[:6]}/messages", json=adopted)
    refused(answer, 404, "config.thread_id")
    assert await started_by(client, "globex", task_queue) == before


async def test_objects_nobody_made_for_the_tenant_are_404_naming_the_field(
    acme: httpx.AsyncClient, openai: AsyncOpenAI, assistant_id: str
) -> None:
    operators = await openai.vector_stores.create(name="handbook", metadata=owned_metadata())
    file = await openai.files.create(file=("notes.txt", b"notes"), purpose="assistants")
    spec = {"name": "desk", "model": "gpt-4o"}
    stores = {"file_search": {"vector_store_ids": [operators.id]}}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"assistant_id": assistant_id}, "assistant_id"),
        (
            {"assistant": {**spec, "tool_resources": stores}},
            "assistant.tool_resources.file_search.vector_store_ids[0]",
        ),
        (
            {
                "assistant": spec,
                "tools": [{"type": "file_search", "vector_store_ids": [operators.id]}],
            },
            "tools[0].vector_store_ids[0]",
        ),
        (
            {"assistant": spec, "tools": [{"type": "code_interpreter", "container": "cntr_1"}]},
            "tools[0].container",
        ),
        ({"prompt": {"id": "pmpt_1"}}, "prompt.id"),
    ]
    for fields, param in cases:
        body = {"messages": [{"content": "Hi"}], **fields}
        refused(await acme.post("/v1/runs", json=body), 404, param)
    attached = {
        "assistant": spec,
        "messages": [{"content": "Hi", "attachments": [{"file_id": file.id}]}],
    }
    refused(await acme.post("/v1/runs", json=attached), 404, "messages[0].attachments[0].file_id")
    key = f"k{uuid.uuid4().hex[:6]}"
    message = {
        "content": "Hi",
        "overrides": {"tools": [{"type": "file_search", "vector_store_ids": [operators.id]}]},
    }
    body = {"message": message, "config": {"assistant": spec}}
    refused(
        await acme.post(f"/v1/conversations/{key}/messages", json=body),
        404,
        "message.overrides.tools[0].vector_store_ids[0]",
    )


@pytest.mark.parametrize(
    ("where", "field"),
    [
        ("run", "download_to"),
        ("run", "timeouts"),
        ("defaults", "timeouts"),
        ("overrides", "download_to"),
    ],
)
async def test_the_operators_fields_are_refused_over_http_and_nothing_starts(
    acme: httpx.AsyncClient,
    client: Client,
    task_queue: str,
    assistant: Assistant,
    where: str,
    field: str,
) -> None:
    value: Any = "/etc/cron.d" if field == "download_to" else {"heartbeat_seconds": 0.001}
    key = f"k{uuid.uuid4().hex[:6]}"
    url, body, param = "/v1/runs", {**run_body(assistant, "Hi"), field: value}, field
    if where == "defaults":
        config = {**conversation_config(assistant), "defaults": {field: value}}
        url, body = (
            f"/v1/conversations/{key}/messages",
            {"message": {"content": "Hi"}, "config": config},
        )
        param = f"config.defaults.{field}"
    elif where == "overrides":
        message = {"content": "Hi", "overrides": {field: value}}
        body = {"message": message, "config": conversation_config(assistant)}
        url, param = f"/v1/conversations/{key}/messages", f"message.overrides.{field}"
    refused(await acme.post(url, json=body), 400, param)
    assert await started_by(client, "acme", task_queue) == 0


async def test_each_tenant_gets_its_own_assistant_per_spec_and_none_is_rewritten(
    acme: httpx.AsyncClient, globex: httpx.AsyncClient, openai: AsyncOpenAI
) -> None:
    name = f"desk-{uuid.uuid4().hex[:6]}"
    plain = {"name": name, "model": "gpt-4o", "instructions": "Be brief."}
    acmes = await finished(acme, {"assistant": plain, "messages": [{"content": "Hi"}]})
    again = await finished(acme, {"assistant": plain, "messages": [{"content": "Hi again"}]})
    globexes = await finished(
        globex,
        {"assistant": {**plain, "instructions": "Be long."}, "messages": [{"content": "Hi"}]},
    )
    assert acmes["assistant_id"] == again["assistant_id"]
    assert acmes["assistant_id"] != globexes["assistant_id"]
    mine = await openai.beta.assistants.retrieve(acmes["assistant_id"])
    theirs = await openai.beta.assistants.retrieve(globexes["assistant_id"])
    assert (mine.instructions, (mine.metadata or {}).get("tenant")) == ("Be brief.", "acme")
    assert (theirs.instructions, (theirs.metadata or {}).get("tenant")) == ("Be long.", "globex")
    slow = await acme.post(
        "/v1/runs", json={"assistant": plain, "messages": [{"content": f"{SLOW} hold"}]}
    )
    edited = await finished(
        acme, {"assistant": {**plain, "instructions": "Be kind."}, "messages": [{"content": "Hi"}]}
    )
    assert edited["assistant_id"] != acmes["assistant_id"]
    assert (
        await openai.beta.assistants.retrieve(acmes["assistant_id"])
    ).instructions == "Be brief."
    await acme.post(f"/v1/runs/{slow.json()['id']}/cancel")
    named = {"assistant_id": acmes["assistant_id"], "messages": [{"content": "By id"}]}
    assert (await finished(acme, named))["assistant_id"] == acmes["assistant_id"]
    refused(await globex.post("/v1/runs", json=named), 404, "assistant_id")


async def test_a_value_no_worker_could_honour_is_a_400_on_every_route(
    acme: httpx.AsyncClient, assistant: Assistant
) -> None:
    run_id = (await acme.post("/v1/runs", json=run_body(assistant, f"{SLOW} hold"))).json()["id"]
    huge = 10**12  # seconds: 31,000 years, a run or conversation held for ever
    config = conversation_config(assistant)
    cases: list[tuple[str, Any, str]] = [
        (
            "/v1/runs",
            run_body(assistant, "Hi", deadline_seconds=3600) | {"deadline_seconds": huge},
            "deadline_seconds",
        ),
        (
            "/v1/runs",
            {**run_body(assistant, "Hi"), "approval_timeout_seconds": huge},
            "approval_timeout_seconds",
        ),
        ("/v1/runs", {**run_body(assistant, "Hi"), "max_run_attempts": 1000}, "max_run_attempts"),
        (
            "/v1/runs",
            {**run_body(assistant, "Hi"), "messages": [{"content": "Hi"}] * 33},
            "messages",
        ),
        ("/v1/runs", {**run_body(assistant, "Hi"), "carried": {}}, "carried"),
        (f"/v1/runs/{run_id}/cancel", {"reason": "x" * 3000}, "reason"),
        (
            f"/v1/runs/{run_id}/tool_outputs",
            {"tool_outputs": [{"tool_call_id": f"c{n}", "output": "x"} for n in range(129)]},
            "tool_outputs",
        ),
        (f"/v1/runs/{run_id}/approvals/{'c' * 300}", {"approved": True}, "call_id"),
        (
            "/v1/conversations/k/messages",
            {"message": {"content": "Hi"}, "config": {**config, "idle_timeout_seconds": huge}},
            "config.idle_timeout_seconds",
        ),
        (
            "/v1/conversations/k/messages",
            {
                "message": {"content": "Hi", "attachments": [{"file_id": "f"}] * 21},
                "config": config,
            },
            "message.attachments",
        ),
    ]
    for url, body, param in cases:
        response = await acme.post(url, json=body)
        assert response.status_code == 400, (url, response.text)
        assert str(response.json()["error"]["param"]).startswith(param), (url, response.json())
    negative = await acme.get(f"/v1/runs/{run_id}/events?from_offset=-1")
    assert negative.status_code == 400
    assert (await acme.get(f"/v1/runs/{run_id}")).json()["status"] == "running"
    await acme.post(f"/v1/runs/{run_id}/cancel")
