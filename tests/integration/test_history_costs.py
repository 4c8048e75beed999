"""Today's code writes exactly the history events of the recorded runs whose costs
tests/replay/test_history_costs.py pins, so those numbers cannot creep back unnoticed."""

from __future__ import annotations

import uuid

import pytest
from temporalio.client import Client

from tests.integration.conftest import both_backends
from tests.replay.events import event_kinds, recorded
from tests.replay.record import HISTORY_COSTS, RESPONSES_ASSISTANT
from workers.client import start_run
from workflows.contracts import RunRequest

pytestmark = both_backends


@pytest.mark.parametrize("scenario", list(HISTORY_COSTS))
async def test_a_run_writes_the_events_of_its_recorded_history(
    client: Client, task_queue: str, worker: None, assistant_id: str, backend: str, scenario: str
) -> None:
    target: dict[str, object] = {"assistant": RESPONSES_ASSISTANT}
    if backend == "assistants":
        target = {"assistant_id": assistant_id}
    fields = {"backend": backend, **target, **HISTORY_COSTS[scenario]}
    handle = await start_run(
        client, task_queue, RunRequest.model_validate(fields), workflow_id=f"cost-{uuid.uuid4()}"
    )
    assert (await handle.result()).status == "completed"
    live = event_kinds(await handle.fetch_history())
    assert live == event_kinds(recorded(f"history_{backend}_{scenario}"))
