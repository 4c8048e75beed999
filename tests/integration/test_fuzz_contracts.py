"""Random JSON thrown at every workflow contract through the client: always a fast
non-retryable failure naming the field, nothing created at the API, the worker unharmed."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from tests.integration.conftest import Counters, ask, run
from workflows.contracts import CleanupPolicy, IngestRequest, RunRequest, ThreadConfig

CONTRACTS: dict[str, type[Any]] = {
    "AssistantRun": RunRequest,
    "AssistantThread": ThreadConfig,
    "VectorStoreIngest": IngestRequest,
    "Cleanup": CleanupPolicy,
}
scalars = st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=20)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


def payloads(contract: type[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects using the contract's own field names (and some others) with random values."""
    names = st.sampled_from([*contract.model_fields, "unknown_field"])
    return st.dictionaries(names, values, max_size=5)


def is_valid(contract: type[Any], payload: dict[str, Any]) -> bool:
    try:
        contract.model_validate(payload)
    except ValueError:
        return False
    return True


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
async def test_random_json_fails_fast_naming_the_field(
    client: Client, task_queue: str, worker: None, counters: Counters, data: st.DataObject
) -> None:
    workflow_type = data.draw(st.sampled_from(sorted(CONTRACTS)))
    contract = CONTRACTS[workflow_type]
    payload = data.draw(payloads(contract).filter(lambda p: not is_valid(contract, p)))
    handle = await client.start_workflow(
        workflow_type, payload, id=f"fuzz-{uuid.uuid4()}", task_queue=task_queue
    )
    try:
        await asyncio.wait_for(handle.result(), timeout=10)
        raise AssertionError(f"{workflow_type} accepted {payload}")
    except WorkflowFailureError as failure:
        cause = failure.cause
        assert isinstance(cause, ApplicationError)
        assert cause.type == "ValidationError"
        assert re.search(rf"validation errors? for {contract.__name__}\b", cause.message)
    assert counters.delta("requests", "POST /v1/threads 200") == 0
    assert counters.delta("vector_stores_created") == 0


async def test_the_worker_still_runs_after_the_fuzzing(
    client: Client, task_queue: str, worker: None, assistant_id: str
) -> None:
    result = await run(client, task_queue, ask(assistant_id, "Say hello"))
    assert result.status == "completed"
