"""What the emulator's model does for budgets and fallbacks, through the official SDK: a model
that does not exist is refused as OpenAI refuses it, `fail_model` fails one model only, and a
run's closed steps report their own share of its usage (their sum is the run's)."""

from __future__ import annotations

import time

import openai
import pytest
from openai import OpenAI
from openai.types.beta.threads import Run

from tests.conformance.conftest import assert_schema
from tests.conformance.test_assistants import WEATHER


def settled(client: OpenAI, run: Run) -> Run:
    for _ in range(400):
        if run.status not in ("queued", "in_progress", "cancelling"):
            return run
        time.sleep(0.01)
        run = client.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id)
    raise AssertionError(f"{run.id} never settled")


def test_a_model_that_does_not_exist_is_refused_before_anything_is_created(
    client: OpenAI,
) -> None:
    with pytest.raises(openai.NotFoundError) as refused:
        client.responses.create(model="no-such-model", input="Hello")
    body = refused.value.body
    assert isinstance(body, dict)
    assert (body["code"], body["param"]) == ("model_not_found", "model")
    assert_schema("Error", body)
    assistant = client.beta.assistants.create(model="gpt-4o")
    thread = client.beta.threads.create()
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.runs.create(
            thread.id,
            assistant_id=assistant.id,
            model="no-such-model",
            additional_messages=[{"role": "user", "content": "Hello"}],
        )
    assert client.beta.threads.messages.list(thread.id).data == [], "nothing was added"


def test_fail_model_fails_only_that_model(client: OpenAI) -> None:
    text = "Hello [[emulator fail_model=gpt-4o]]"
    failed = client.responses.create(model="gpt-4o", input=text)
    assert failed.status == "failed"
    assert failed.error is not None
    assert failed.error.code == "server_error"
    answered = client.responses.create(model="gpt-4o-mini", input=text)
    assert answered.status == "completed"


def test_closed_steps_report_their_share_of_the_runs_usage(client: OpenAI) -> None:
    assistant = client.beta.assistants.create(model="gpt-4o", tools=[WEATHER])
    thread = client.beta.threads.create(
        messages=[{"role": "user", "content": "weather in Paris then weather in Rome"}]
    )
    run = settled(client, client.beta.threads.runs.create(thread.id, assistant_id=assistant.id))
    while run.status == "requires_action":
        assert run.usage is None, "a run's usage comes when it ends"
        assert run.required_action is not None
        calls = run.required_action.submit_tool_outputs.tool_calls
        outputs = [{"tool_call_id": c.id, "output": "sunny"} for c in calls]
        submitted = client.beta.threads.runs.submit_tool_outputs(
            run.id,
            thread_id=thread.id,
            tool_outputs=outputs,  # type: ignore[arg-type]
        )
        run = settled(client, submitted)
    assert run.status == "completed"
    assert run.usage is not None
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id).data
    assert len(steps) == 3
    assert all(step.usage is not None for step in steps)
    total = sum(step.usage.total_tokens for step in steps if step.usage)
    assert total == run.usage.total_tokens
    for step in steps:
        assert_schema("RunStepObject", step.model_dump(mode="json"))
