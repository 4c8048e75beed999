"""Token-aware pacing (MODEL_TOKENS_PER_MINUTE): once a model's tokens of the window are
spent, a new run waits for the next window before its first model request, a run mid-flight
is not delayed, and a run cancelled while it waits sends no model request."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx2 as httpx
import pytest
from temporalio.client import Client

from emulator.server import BackgroundEmulator
from tests.integration.conftest import ask, start
from workers.settings import Settings
from workers.worker import build_worker
from workflows.common import RunPhase
from workflows.contracts import RunState
from workflows.pacing import WINDOW_QUERY, WindowState, token_window_id
from workflows.run.workflow import AssistantRun

WINDOW_SECONDS = 4.0
MODEL_REQUEST = ("POST", "/v1/responses")


@pytest.fixture
def model() -> str:
    """A model of the test's own: its pacing window is no other test's."""
    return f"gpt-4o-paced-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def paced_worker(client: Client, settings: Settings, model: str) -> AsyncIterator[None]:
    paced = settings.model_copy(
        update={
            "openai_backend": "responses",
            "model_tokens_per_minute": f"{model}=1",
            "model_tokens_window_seconds": WINDOW_SECONDS,
        }
    )
    async with build_worker(client, paced):
        yield


def spec(model: str) -> dict[str, Any]:
    return {"name": f"paced-{uuid.uuid4().hex[:6]}", "model": model, "tools": ["slow_lookup"]}


def model_requests(api: BackgroundEmulator, since: float) -> list[float]:
    log = httpx.get(f"{api.admin_url}/requests", params={"since": since}).json()["data"]
    return sorted(r["arrived"] for r in log if (r["method"], r["path"]) == MODEL_REQUEST)


async def window_of(client: Client, model: str) -> WindowState:
    handle = client.get_workflow_handle(token_window_id(model))
    for _ in range(200):
        try:
            state: WindowState = await handle.query(WINDOW_QUERY, result_type=WindowState)
            return state
        except Exception:  # not started yet: the first turn's tokens are on their way
            await asyncio.sleep(0.05)
    raise AssertionError(f"no pacing window for {model}")


async def waiting_for_budget(client: Client, workflow_id: str) -> str:
    """The heartbeat of the run's start while it waits for the token budget."""
    handle = client.get_workflow_handle(workflow_id)
    for _ in range(200):
        for pending in (await handle.describe()).raw_description.pending_activities:
            details = await client.data_converter.decode(pending.heartbeat_details.payloads)
            if pending.activity_type.name == "run.start" and details:
                return str(details[0])
        await asyncio.sleep(0.05)
    raise AssertionError(f"{workflow_id} never waited for the token budget")


async def until_phase(handle: Any, phase: RunPhase) -> None:
    for _ in range(400):
        if (await handle.query(AssistantRun.state, result_type=RunState)).phase == phase:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never reached {phase}")


async def test_a_spent_budget_delays_new_runs_to_the_next_window_but_not_runs_in_flight(
    client: Client, task_queue: str, api: BackgroundEmulator, paced_worker: None, model: str
) -> None:
    since = time.time()
    in_flight = await start(
        client, task_queue, ask(spec(model), 'call slow_lookup with {"seconds": 1}')
    )
    await until_phase(in_flight, RunPhase.running_tools)  # its first turn spent the budget
    window = await window_of(client, model)
    assert window.spent > 1
    window_ends = (window.started_at + timedelta(seconds=window.window_seconds)).timestamp()
    new = await start(client, task_queue, ask(spec(model), "Say hi."))
    waiting = await waiting_for_budget(client, new.id)
    assert waiting.startswith(f"waiting for the {model} token budget: ")
    assert (await in_flight.result()).status == "completed"
    assert (await new.result()).status == "completed"
    arrivals = model_requests(api, since)
    before, after = (
        [t for t in arrivals if t < window_ends],
        [t for t in arrivals if t >= window_ends],
    )
    assert len(before) == 2, "the run in flight: its start and its tool outputs, undelayed"
    assert len(after) == 1, "the new run: only once the window has passed"


async def test_a_run_cancelled_while_it_waits_for_the_budget_sends_no_model_request(
    client: Client, task_queue: str, api: BackgroundEmulator, paced_worker: None, model: str
) -> None:
    assert (await (await start(client, task_queue, ask(spec(model), "Hi."))).result()).usage
    await window_of(client, model)
    since = time.time()
    waiting = await start(client, task_queue, ask(spec(model), "Say hi."))
    await waiting_for_budget(client, waiting.id)
    state = await waiting.execute_update(AssistantRun.cancel)
    assert state.phase == RunPhase.cancelled
    assert (await waiting.result()).status == "cancelled"
    assert model_requests(api, since) == []
