"""AssistantRun on the Responses API only: reusable prompts, and a run that is a chain of
responses."""

from __future__ import annotations

import httpx2 as httpx
import pytest
from openai import AsyncOpenAI
from temporalio.client import Client

from emulator.server import BackgroundEmulator
from tests.integration.conftest import Counters, run
from workflows.contracts import RunRequest

pytestmark = pytest.mark.parametrize("backend", ["responses"], indirect=True)


async def test_a_run_with_a_reusable_prompt_takes_its_version_and_variables(
    backend: str,
    client: Client,
    task_queue: str,
    worker: None,
    api: BackgroundEmulator,
    openai: AsyncOpenAI,
) -> None:
    prompt = {"model": "gpt-4o", "instructions": "Answer {{customer}} in one line."}
    httpx.put(f"{api.admin_url}/prompts/pmpt_support", json=prompt).raise_for_status()
    request = RunRequest.model_validate(
        {
            "prompt": {"id": "pmpt_support", "variables": {"customer": "Ada"}},
            "messages": [{"content": "Say hello to Ada"}],
        }
    )
    result = await run(client, task_queue, request)
    assert result.status == "completed"
    assert result.run_id is not None
    response = await openai.responses.retrieve(result.run_id)
    assert response.instructions == "Answer Ada in one line."
    assert response.prompt is not None
    assert response.prompt.id == "pmpt_support"
    assert (response.metadata or {})["created_by"] == "durable-assistants"


async def test_tool_rounds_chain_responses_the_workflow_recorded(
    backend: str,
    client: Client,
    task_queue: str,
    worker: None,
    api: BackgroundEmulator,
    openai: AsyncOpenAI,
) -> None:
    spec = {
        "name": "weather",
        "model": "gpt-4o",
        "tools": ["get_weather"],
        "instructions": "Be brief.",
    }
    request = RunRequest.model_validate(
        {"assistant": spec, "messages": [{"content": "What is the weather in Rome?"}]}
    )
    counters = Counters(api)
    result = await run(client, task_queue, request)
    assert result.status == "completed"
    assert counters.delta("requests", "GET /v1/responses/{response_id} 200") == 0, (
        "the worker remembers how the response it continues was configured"
    )
    assert result.run_id is not None
    last = await openai.responses.retrieve(result.run_id)
    assert last.previous_response_id is not None
    first = await openai.responses.retrieve(last.previous_response_id)
    assert [item.type for item in first.output] == ["function_call"]
    assert last.instructions == first.instructions == "Be brief."
    assert [t.type for t in last.tools] == ["function"]
