"""The `cancels` chaos scenario: cancels and deadlines that land during retried attempts and
tool rounds, while workers are killed.

A third of the runs fail once with `server_error` and are retried (`max_run_attempts: 2`), a
third make two tool rounds; both are cancelled at a random moment. The last third make two tool
rounds under a random deadline. Every run must end as asked (`cancelled`, `expired`) or as its
API run really ended first (`completed`), agree with the API about it, and leave no API run
active and no user message twice.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass
from typing import Any

from openai import AsyncOpenAI
from temporalio.client import Client, WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.service import RPCError

from tests.chaos import chains
from workflows.contracts import CancelRequest, RunRequest, RunResult
from workflows.run.workflow import AssistantRun

KINDS = ("cancel during retry", "cancel during tools", "deadline")
ALLOWED = {
    "cancel during retry": {"cancelled", "completed"},
    "cancel during tools": {"cancelled", "completed"},
    "deadline": {"expired", "completed"},
}
ACTIVE = frozenset({"queued", "in_progress", "requires_action", "cancelling"})
TIMEOUTS = {"heartbeat_seconds": 2, "api_initial_retry_seconds": 0.2, "api_max_attempts": 50}


@dataclass
class Ended:
    kind: str
    result: RunResult | None
    seconds: float


def request_for(assistant: str | dict[str, Any], n: int) -> tuple[str, RunRequest]:
    kind = KINDS[n % len(KINDS)]
    target = {"assistant_id": assistant} if isinstance(assistant, str) else {"assistant": assistant}
    fields: dict[str, object] = {**target, "timeouts": TIMEOUTS}
    if kind == "cancel during retry":
        text = f"Hello number {n} [[emulator fail=server_error*1]]"
        fields["max_run_attempts"] = 2
    else:
        text = f'call record_visit with {{"city": "City{n}"}} then calculate {n} * 2'
    if kind == "deadline":
        fields["deadline_seconds"] = round(random.uniform(1, 6), 1)
    fields["messages"] = [{"content": text}]
    return kind, RunRequest.model_validate(fields)


async def run_and_disturb(client: Client, kind: str, request: RunRequest) -> Ended:
    """Start the run; cancel it at a random moment unless its deadline does."""
    from tests.chaos.run import _through_outages, start_through_outages

    started = time.perf_counter()
    workflow_id = f"chaos-cancel-{uuid.uuid4()}"
    await start_through_outages(client, request, workflow_id)
    handle = client.get_workflow_handle_for(AssistantRun.run, workflow_id)
    if kind != "deadline":
        await asyncio.sleep(random.uniform(0.2, 5))

        async def cancel() -> object:
            try:
                return await handle.execute_update(AssistantRun.cancel, CancelRequest())
            except WorkflowUpdateFailedError:  # the run had already ended
                return None
            except RPCError as err:
                if "already completed" in str(err):
                    return None
                raise

        await _through_outages(cancel)
    try:
        result: RunResult = await _through_outages(handle.result)
    except WorkflowFailureError:
        return Ended(kind, None, time.perf_counter() - started)
    return Ended(kind, result, time.perf_counter() - started)


@dataclass
class Verdict:
    by_status: dict[str, int]
    unexpected: int
    disagreeing: int
    left_active: int
    duplicates: int


async def judge(
    backend: str,
    ended: list[Ended],
    counters: dict[str, dict[str, int]],
    base_url: str,
    key: str,
) -> Verdict:
    """Compare every result with what the API and the emulator's counters say."""
    verdict = Verdict({}, 0, 0, 0, 0)
    async with AsyncOpenAI(base_url=base_url, api_key=key, max_retries=20) as openai:
        for one in ended:
            result = one.result
            if result is None:
                continue
            verdict.by_status[result.status] = verdict.by_status.get(result.status, 0) + 1
            verdict.unexpected += result.status not in ALLOWED[one.kind]
            if result.thread_id is None:
                continue
            if backend == "responses":
                await _judge_chain(openai, result, verdict)
            else:
                await _judge_thread(openai, counters, one, result, verdict)
    return verdict


async def _judge_thread(
    openai: AsyncOpenAI,
    counters: dict[str, dict[str, int]],
    one: Ended,
    result: RunResult,
    verdict: Verdict,
) -> None:
    assert result.thread_id is not None
    runs = [r async for r in openai.beta.threads.runs.list(result.thread_id)]
    verdict.left_active += sum(r.status in ACTIVE for r in runs)
    api = {r.id: r.status for r in runs}.get(result.run_id or "")
    verdict.disagreeing += not _agrees(result.status, api)
    attempts = 2 if one.kind == "cancel during retry" else 1
    verdict.duplicates += counters.get("messages_created", {}).get(result.thread_id, 0) > 1
    verdict.duplicates += counters.get("runs_created", {}).get(result.thread_id, 0) > attempts


async def _judge_chain(openai: AsyncOpenAI, result: RunResult, verdict: Verdict) -> None:
    """The run's last response has ended as the run says; its chain repeats nothing. A run
    cancelled while its tools ran ends at a response that completed asking for them."""
    chain = await chains.chain_of(openai, result)
    verdict.duplicates += chain.repeated
    if result.run_id is None:
        verdict.disagreeing += result.status not in ("cancelled", "expired")
        return
    api = (await openai.responses.retrieve(result.run_id)).status
    verdict.left_active += api in ("queued", "in_progress")
    stopped = result.status in ("cancelled", "expired") and api == "completed"
    verdict.disagreeing += not (_agrees(result.status, api) or stopped)


def _agrees(status: str, api: str | None) -> bool:
    """A result agrees with its API run: the same status; `expired` is a deadline's cancel;
    no run means it was stopped before one was created."""
    if api is None:
        return status in ("cancelled", "expired")
    return status == api or (status == "expired" and api in ("cancelled", "expired"))
