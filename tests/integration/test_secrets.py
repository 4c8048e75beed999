"""No secret reaches workflow history: after the whole suite, every history is scanned for the
OpenAI API keys the workers used and for bearer tokens."""

from __future__ import annotations

import pytest
from temporalio.client import Client

from tests.integration.conftest import API_KEY, ask, run

SECRETS = (API_KEY, "Bearer ")


@pytest.mark.after_everything
async def test_no_history_of_the_suite_contains_a_secret(
    client: Client, task_queue: str, worker: None, assistant_id: str
) -> None:
    await run(client, task_queue, ask(assistant_id, "What is the weather in Paris?"))
    scanned = 0
    async for execution in client.list_workflows():
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        history = await handle.fetch_history()
        text = history.to_json()
        leaked = [secret for secret in SECRETS if secret in text]
        assert not leaked, f"{execution.id} history contains {leaked}"
        scanned += 1
    assert scanned >= 1
