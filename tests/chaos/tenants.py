"""The `tenants` chaos scenario: two tenants talk through `serve` in concurrent conversations,
some adopting a thread of another of their own, each trying to read and adopt the other's,
while `Cleanup` runs every few seconds at age 0 and workers (and once the gateway) are
killed. Checked at the end, against the API: every message answered once and in its
conversation's thread once (none lost, none twice), no response or thread of an open
conversation deleted, no read or adoption across tenants let through, no conversation
failed."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx2 as httpx
import openai as openai_sdk
from openai import AsyncOpenAI
from temporalio.client import Client, WorkflowExecutionStatus

from benchmarks.emulator_bench import free_port
from workflows.cleanup.workflow import Cleanup
from workflows.contracts import CleanupPolicy

TENANTS = {"acme": "chaos-token-acme", "globex": "chaos-token-globex"}
SPEC = {"name": "chaos", "model": "gpt-4o", "tools": ["get_weather"]}


@dataclass
class Tally:
    conversations: int = 0
    messages: int = 0
    answered: int = 0
    lost: int = 0
    duplicated: int = 0
    deleted_in_use: int = 0
    crossed: int = 0
    refused_across: int = 0
    failed_conversations: int = 0
    cleanups: int = 0
    wall: float = 0.0
    sent: dict[str, list[str]] = field(default_factory=dict)  # conversation -> user texts


class Gateway:
    """`durable-assistants serve` for the two tenants, restartable on the same port."""

    def __init__(self, cli: str, env: dict[str, str]) -> None:
        self.cli = cli
        self.port = free_port()
        digests = ",".join(
            f"{tenant}:{hashlib.sha256(token.encode()).hexdigest()}"
            for tenant, token in TENANTS.items()
        )
        self.env = {**env, "API_TOKENS": digests, "LOG_LEVEL": "ERROR"}
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.cli, "serve", "--port", str(self.port)],
            env=self.env,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(400):
            try:
                if httpx.get(f"{self.url}/livez").status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("serve did not start")

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def http(self, tenant: str) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {TENANTS[tenant]}"}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=120)


async def send(http: httpx.AsyncClient, key: str, body: dict[str, Any], idem: str) -> Any:
    """POST a message until the gateway answers (a killed gateway or worker is ridden out
    with the same Idempotency-Key, so the message is queued once)."""
    for _ in range(120):
        try:
            response = await http.post(
                f"/v1/conversations/{key}/messages", json=body, headers={"Idempotency-Key": idem}
            )
        except httpx.TransportError:
            await asyncio.sleep(1)
            continue
        if response.status_code in (502, 503):
            await asyncio.sleep(1)
            continue
        return response
    raise RuntimeError(f"{key}: no answer to {idem}")


async def conversation(
    gateway: Gateway, tenant: str, n: int, messages: int, tally: Tally, adopted: list[str]
) -> None:
    """One conversation of `messages` messages; every third adopts a thread of another of
    the tenant's own (when one is known by then)."""
    key = f"c{n}-{uuid.uuid4().hex[:6]}"
    config: dict[str, Any] = {"assistant": SPEC}
    if n % 3 == 2 and adopted:
        config["thread_id"] = random.choice(adopted)
    name = f"{tenant}/{key}"
    tally.conversations += 1
    tally.sent[name] = []
    async with gateway.http(tenant) as http:
        for m in range(messages):
            text = f"weather in Paris, note {name} #{m}" if m % 2 else f"Hello {name} #{m}"
            tally.messages += 1
            answer = await send(
                http, key, {"message": {"content": text}, "config": config}, f"m{m}"
            )
            if answer.status_code == 200 and answer.json().get("status") == "completed":
                tally.answered += 1
                tally.sent[name].append(text)
                if thread := answer.json().get("thread_id"):
                    adopted.append(thread)
            else:
                tally.lost += 1


async def hostile(
    gateway: Gateway, tally: Tally, stolen: dict[str, list[str]], seconds: float
) -> None:
    """Each tenant tries to adopt the other's threads (in a conversation, in a run) and to
    read the runs of the other's conversations."""
    deadline = time.monotonic() + seconds
    pairs = [("acme", "globex"), ("globex", "acme")]
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        for thief, victim in pairs:
            if not stolen[victim]:
                continue
            thread = random.choice(stolen[victim])
            config = {"assistant": SPEC, "thread_id": thread}
            body = {"message": {"content": "tell me"}, "config": config}
            run = {"assistant": SPEC, "thread_id": thread, "messages": [{"content": "tell me"}]}
            theirs = [name for name in tally.sent if name.startswith(f"{victim}/")]
            their_run = f"thread-{random.choice(theirs).replace('/', '.')}/run-1"
            async with gateway.http(thief) as http:
                try:
                    tried = [
                        await http.post(
                            f"/v1/conversations/x{uuid.uuid4().hex[:6]}/messages", json=body
                        ),
                        await http.post("/v1/runs", json=run),
                        await http.get(f"/v1/runs/{their_run}"),
                    ]
                except httpx.TransportError:
                    continue
            for response in tried:
                if response.status_code == 404:
                    tally.refused_across += 1
                elif response.status_code not in (502, 503):
                    tally.crossed += 1


async def cleanups(client: Client, tally: Tally, seconds: float, queue: str) -> None:
    """`cleanup run` at age 0 every few seconds."""
    deadline = time.monotonic() + seconds
    policy = CleanupPolicy(thread_max_age_seconds=0)
    while time.monotonic() < deadline:
        await asyncio.sleep(random.uniform(2, 4))
        try:
            await client.execute_workflow(
                Cleanup.run, policy, id=f"chaos-cleanup-{uuid.uuid4()}", task_queue=queue
            )
            tally.cleanups += 1
        except Exception:
            continue


async def verify(client: Client, openai: AsyncOpenAI, backend: str, tally: Tally) -> None:
    """Every open conversation's thread whole, each message in it once; none failed."""
    query = 'WorkflowType = "AssistantThread"'
    async for execution in client.list_workflows(query):
        if execution.status == WorkflowExecutionStatus.FAILED:
            tally.failed_conversations += 1
        if execution.status != WorkflowExecutionStatus.RUNNING:
            continue
        state = await client.get_workflow_handle(execution.id).query("state")
        tenant, _, key = execution.id.removeprefix("thread-").partition(".")
        users = await user_texts(openai, backend, state["thread_id"])
        if users is None:
            tally.deleted_in_use += 1
            continue
        for text in tally.sent.get(f"{tenant}/{key}", []):
            seen = users.count(text)
            tally.duplicated += max(0, seen - 1)
            tally.lost += seen == 0


async def user_texts(openai: AsyncOpenAI, backend: str, thread_id: str | None) -> list[str] | None:
    """The user messages of a thread, oldest first; None when a part of it is gone."""
    if thread_id is None:
        return []
    texts: list[str] = []
    try:
        if backend == "assistants":
            async for message in openai.beta.threads.messages.list(thread_id, order="asc"):
                if message.role == "user":
                    texts.append(message.content[0].text.value)  # type: ignore[union-attr]
            return texts
        head: str | None = thread_id
        while head is not None:
            response = await openai.responses.retrieve(head)
            items = openai.responses.input_items.list(head, order="asc")
            asked = [_text(i) async for i in items if i.type == "message" and i.role == "user"]
            texts = asked + texts
            head = response.previous_response_id
    except openai_sdk.NotFoundError:
        return None
    return texts


def _text(item: Any) -> str:
    content = item.content
    return str(content if isinstance(content, str) else content[0].text)


def gateway_env(address: str, base_url: str, key: str) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": os.getcwd(),
        "TEMPORAL_ADDRESS": address,
        "OPENAI_BASE_URL": base_url,
        "OPENAI_API_KEY": key,
    }


def table(backend: str, tally: Tally, wall: float) -> str:
    return (
        f"| {backend} | {tally.conversations} | {tally.messages} | {tally.answered} | "
        f"{tally.lost} | {tally.duplicated} | {tally.deleted_in_use} | {tally.crossed} "
        f"({tally.refused_across} refused) | {tally.failed_conversations} | {tally.cleanups} "
        f"| {wall:.1f} s |"
    )


HEADER = (
    "| tenants: backend | conversations | messages | answered | lost | duplicated "
    "| deleted while in use | reads or adoptions across tenants let through | conversations "
    "failed | cleanups at age 0 | wall |\n|---|---|---|---|---|---|---|---|---|---|---|\n"
)


def ok(tally: Tally) -> bool:
    bad = tally.lost + tally.duplicated + tally.deleted_in_use + tally.crossed
    return bad + tally.failed_conversations == 0 and tally.answered == tally.messages
