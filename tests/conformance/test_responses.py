"""Responses through the official SDK: waiting, background and streamed responses, function tool
rounds, conversations, and the errors applications meet. Every JSON body is checked against the
spec by the fixtures; raw stream events are checked here."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx2 as httpx
import openai
import pytest
from openai import AsyncOpenAI, OpenAI
from openai.types.responses import (
    FunctionToolParam,
    Response,
    ResponseFunctionToolCall,
    ResponseInputParam,
)

from emulator.server import BackgroundEmulator
from tests.conformance.conftest import assert_schema
from tests.conformance.sse import parse_events

WEATHER: FunctionToolParam = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather of a city",
    "strict": True,
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
}
SLOW = "[[emulator in_progress=30]]"
POLL_SECONDS = 0.01
ACTIVE = ("queued", "in_progress")


def poll(client: OpenAI, response: Response, timeout: float = 5.0) -> Response:
    deadline = time.monotonic() + timeout
    while response.status in ACTIVE and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        response = client.responses.retrieve(response.id)
    return response


def calls_of(response: Response) -> list[ResponseFunctionToolCall]:
    return [item for item in response.output if isinstance(item, ResponseFunctionToolCall)]


def outputs_for(response: Response, output: str) -> ResponseInputParam:
    return [
        {"type": "function_call_output", "call_id": call.call_id, "output": output}
        for call in calls_of(response)
    ]


def test_plain_text_response(client: OpenAI) -> None:
    response = client.responses.create(
        model="gpt-4o", input="Hello there", instructions="Be brief.", metadata={"k": "v"}
    )
    assert response.id.startswith("resp_")
    assert (response.object, response.status, response.background) == (
        "response",
        "completed",
        False,
    )
    assert response.completed_at is not None
    assert (response.instructions, response.metadata) == ("Be brief.", {"k": "v"})
    message = response.output[0]
    assert message.type == "message"
    assert message.id.startswith("msg_")
    assert message.content[0].type == "output_text"
    assert 'You said: "Hello there"' in response.output_text
    assert response.usage is not None
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    assert client.responses.retrieve(response.id).output_text == response.output_text


def test_message_content_may_be_a_list_of_input_parts(client: OpenAI) -> None:
    parts: ResponseInputParam = [
        {"role": "user", "content": [{"type": "input_text", "text": "Hello in parts"}]}
    ]
    response = client.responses.create(model="gpt-4o", input=parts)
    assert 'You said: "Hello in parts"' in response.output_text


def test_background_response_is_queued_then_completes(client: OpenAI) -> None:
    response = client.responses.create(model="gpt-4o", input="Hello", background=True)
    assert response.status == "queued"
    assert response.usage is None
    final = poll(client, response)
    assert final.status == "completed"
    assert "Hello" in final.output_text


def test_cancel_a_background_response(client: OpenAI, counters: Any) -> None:
    response = client.responses.create(model="gpt-4o", input=f"Hi {SLOW}", background=True)
    cancelled = client.responses.cancel(response.id)
    assert cancelled.status == "cancelled"
    assert client.responses.retrieve(response.id).status == "cancelled"
    assert client.responses.cancel(response.id).status == "cancelled", "cancel is idempotent"
    assert counters()["responses_cancelled"]["total"] >= 1


def test_only_active_background_responses_can_be_cancelled(client: OpenAI) -> None:
    done = poll(client, client.responses.create(model="gpt-4o", input="Hi", background=True))
    with pytest.raises(openai.BadRequestError, match="Cannot cancel a completed response"):
        client.responses.cancel(done.id)
    waited = client.responses.create(model="gpt-4o", input="Hi")
    with pytest.raises(openai.BadRequestError, match="Cannot cancel a synchronous response"):
        client.responses.cancel(waited.id)


def test_function_tool_round_trip(client: OpenAI, counters: Any) -> None:
    before = counters().get("function_call_outputs_received", {}).get("total", 0)
    response = client.responses.create(
        model="gpt-4o", input="What is the weather in Rome?", tools=[WEATHER]
    )
    assert response.status == "completed"
    [call] = calls_of(response)
    assert (call.name, json.loads(call.arguments)) == ("get_weather", {"city": "Rome"})
    assert call.call_id.startswith("call_")
    assert call.id is not None
    assert call.id.startswith("fc_")

    answer = client.responses.create(
        model="gpt-4o",
        previous_response_id=response.id,
        tools=[WEATHER],
        input=outputs_for(response, '{"conditions": "sunny"}'),
    )
    assert answer.previous_response_id == response.id
    assert 'get_weather returned {"conditions": "sunny"}' in answer.output_text
    received = counters()["function_call_outputs_received"]
    assert received["total"] == before + 1
    assert received[call.call_id] == 1


def test_parallel_function_calls(client: OpenAI) -> None:
    response = client.responses.create(
        model="gpt-4o", input="What is the weather in Paris and London?", tools=[WEATHER]
    )
    assert sorted(json.loads(c.arguments)["city"] for c in calls_of(response)) == [
        "London",
        "Paris",
    ]
    answer = client.responses.create(
        model="gpt-4o",
        previous_response_id=response.id,
        tools=[WEATHER],
        input=outputs_for(response, "mild"),
    )
    assert answer.output_text.count("get_weather returned mild") == 2


def test_without_parallel_tool_calls_each_call_takes_a_response(client: OpenAI) -> None:
    cities = []
    response = client.responses.create(
        model="gpt-4o",
        input="Weather in Paris and London",
        tools=[WEATHER],
        parallel_tool_calls=False,
    )
    while calls_of(response):
        assert len(calls_of(response)) == 1
        cities.append(json.loads(calls_of(response)[0].arguments)["city"])
        response = client.responses.create(
            model="gpt-4o",
            previous_response_id=response.id,
            tools=[WEATHER],
            parallel_tool_calls=False,
            input=outputs_for(response, "ok"),
        )
    assert cities == ["Paris", "London"]
    assert response.output_text.count("get_weather returned ok") == 2


def test_tool_outputs_must_match_the_pending_calls(client: OpenAI, counters: Any) -> None:
    response = client.responses.create(model="gpt-4o", input="Weather in Oslo", tools=[WEATHER])
    before = counters().get("function_call_outputs_rejected", {}).get("total", 0)
    wrong: ResponseInputParam = [
        {"type": "function_call_output", "call_id": "call_wrong", "output": "x"}
    ]
    with pytest.raises(openai.BadRequestError) as error:
        client.responses.create(model="gpt-4o", previous_response_id=response.id, input=wrong)
    assert error.value.param == "input"
    assert "No tool call found for function call output with call_id call_wrong" in str(error.value)
    assert counters()["function_call_outputs_rejected"]["total"] == before + 1

    [call] = calls_of(response)
    with pytest.raises(
        openai.BadRequestError, match=f"No tool output found for function call {call.call_id}"
    ):
        client.responses.create(model="gpt-4o", previous_response_id=response.id, input="Hi")


def test_conversation_chains_responses_and_collects_their_items(client: OpenAI) -> None:
    conversation = client.conversations.create(metadata={"topic": "weather"})
    first = client.responses.create(
        model="gpt-4o", input="Weather in Lima", tools=[WEATHER], conversation=conversation.id
    )
    assert first.conversation is not None
    assert first.conversation.id == conversation.id
    second = client.responses.create(
        model="gpt-4o",
        tools=[WEATHER],
        conversation={"id": conversation.id},
        input=outputs_for(first, "foggy"),
    )
    assert "get_weather returned foggy" in second.output_text
    items = client.conversations.items.list(conversation.id, order="asc").data
    assert [item.type for item in items] == [
        "message",
        "function_call",
        "function_call_output",
        "message",
    ]
    assert [getattr(item, "role", None) for item in items] == ["user", None, None, "assistant"]


def test_previous_response_and_conversation_are_exclusive(client: OpenAI) -> None:
    conversation = client.conversations.create()
    response = client.responses.create(model="gpt-4o", input="Hi")
    with pytest.raises(openai.BadRequestError, match="Mutually exclusive parameters"):
        client.responses.create(
            model="gpt-4o",
            input="Hi",
            previous_response_id=response.id,
            conversation=conversation.id,
        )


def test_input_items_are_listed_and_paginated(client: OpenAI) -> None:
    response = client.responses.create(
        model="gpt-4o",
        input=[{"role": "developer", "content": "Be terse."}, {"role": "user", "content": "Hi"}],
    )
    items = client.responses.input_items.list(response.id, order="asc").data
    assert [(item.type, getattr(item, "role", None)) for item in items] == [
        ("message", "developer"),
        ("message", "user"),
    ]
    page = client.responses.input_items.list(response.id, limit=1)
    assert page.has_more
    assert page.data[0].id == items[-1].id


def test_streaming_helper_collects_the_text(client: OpenAI) -> None:
    with client.responses.stream(model="gpt-4o", input="Tell me something long") as stream:
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert len(deltas) > 1
    assert "".join(deltas) == final.output_text
    assert final.status == "completed"
    assert 'You said: "Tell me something long"' in final.output_text


def test_create_with_stream_true_for_a_tool_call(client: OpenAI) -> None:
    stream = client.responses.create(
        model="gpt-4o", input="Weather in Kyiv", tools=[WEATHER], stream=True
    )
    events = list(stream)
    for event in events:
        assert_schema("ResponseStreamEvent", event.to_dict())
    assert [e.sequence_number for e in events] == list(range(len(events)))
    names = [event.type for event in events]
    assert names[:2] == ["response.created", "response.in_progress"]
    assert names[-1] == "response.completed"
    done = next(e for e in events if e.type == "response.function_call_arguments.done")
    assert json.loads(done.arguments) == {"city": "Kyiv"}


def raw_events(emulator: BackgroundEmulator, method: str, path: str, **kwargs: Any) -> list[Any]:
    with httpx.stream(
        method, emulator.base_url + path, headers={"Authorization": "Bearer sk-x"}, **kwargs
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        return parse_events(response.iter_lines())


def test_background_stream_resumes_after_a_sequence_number(
    client: OpenAI, emulator: BackgroundEmulator
) -> None:
    body = {"model": "gpt-4o", "input": "Resume me", "background": True, "stream": True}
    events = raw_events(emulator, "POST", "/responses", json=body)
    for event in events:
        assert event["event"] == event["data"]["type"]
        assert_schema("ResponseStreamEvent", event["data"])
    assert [e["event"] for e in events[:3]] == [
        "response.created",
        "response.queued",
        "response.in_progress",
    ]
    response_id = events[0]["data"]["response"]["id"]
    resumed = raw_events(
        emulator, "GET", f"/responses/{response_id}", params={"stream": "true", "starting_after": 4}
    )
    assert resumed == events[5:]

    with client.responses.stream(response_id=response_id, starting_after=4) as stream:
        seen = [event.sequence_number for event in stream]
        final = stream.get_final_response()
    assert seen == list(range(5, len(events)))
    assert "Resume me" in final.output_text


def test_too_few_output_tokens_make_an_incomplete_response(client: OpenAI) -> None:
    response = client.responses.create(model="gpt-4o", input="word " * 40, max_output_tokens=16)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert [item.status for item in response.output if item.type == "message"] == ["incomplete"]
    assert response.usage is not None
    assert response.usage.output_tokens <= 16


def test_fail_directive_fails_the_response_with_its_code(client: OpenAI) -> None:
    text = f"Hi {time.time()} [[emulator fail=rate_limit_exceeded*1]]"
    failed = client.responses.create(model="gpt-4o", input=text)
    assert failed.status == "failed"
    assert failed.error is not None
    assert failed.error.code == "rate_limit_exceeded"
    retried = client.responses.create(model="gpt-4o", input=text)
    assert retried.status == "completed"
    scripted = client.responses.create(
        model="gpt-4o", input="Hi", extra_headers={"X-Emulator-Run": "fail=invalid_prompt"}
    )
    assert scripted.error is not None
    assert scripted.error.code == "invalid_prompt"


def test_unknown_and_deleted_responses_are_404(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError, match="Response with id 'resp_missing' not found"):
        client.responses.retrieve("resp_missing")
    with pytest.raises(openai.NotFoundError, match="Previous response with id 'resp_missing'"):
        client.responses.create(model="gpt-4o", input="Hi", previous_response_id="resp_missing")
    response = client.responses.create(model="gpt-4o", input="Hi")
    with pytest.raises(openai.BadRequestError, match="background=true can be streamed"):
        client.responses.retrieve(response.id, stream=True)
    client.responses.delete(response.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)
    unstored = client.responses.create(model="gpt-4o", input="Hi", store=False)
    assert unstored.status == "completed"
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(unstored.id)


async def apoll(aclient: AsyncOpenAI, response: Response) -> Response:
    deadline = time.monotonic() + 5.0
    while response.status in ACTIVE and time.monotonic() < deadline:
        await asyncio.sleep(POLL_SECONDS)
        response = await aclient.responses.retrieve(response.id)
    return response


async def test_async_background_tool_round_trip(aclient: AsyncOpenAI) -> None:
    response = await aclient.responses.create(
        model="gpt-4o", input="Weather in Bern", tools=[WEATHER], background=True
    )
    response = await apoll(aclient, response)
    assert [call.name for call in calls_of(response)] == ["get_weather"]
    answer = await aclient.responses.create(
        model="gpt-4o",
        previous_response_id=response.id,
        tools=[WEATHER],
        input=outputs_for(response, "cold"),
    )
    assert "get_weather returned cold" in answer.output_text


async def test_async_stream_and_cancel(aclient: AsyncOpenAI) -> None:
    async with aclient.responses.stream(model="gpt-4o", input="Async hello") as stream:
        text = "".join([e.delta async for e in stream if e.type == "response.output_text.delta"])
        final = await stream.get_final_response()
    assert text == final.output_text
    slow = await aclient.responses.create(model="gpt-4o", input=f"x {SLOW}", background=True)
    assert (await aclient.responses.cancel(slow.id)).status == "cancelled"
    with pytest.raises(openai.NotFoundError):
        await aclient.responses.retrieve("resp_missing")


def test_a_prompt_reference_brings_its_version_model_and_filled_instructions(
    client: OpenAI, emulator: BackgroundEmulator
) -> None:
    prompt = {"model": "gpt-4o", "instructions": "Greet {{customer}} politely."}
    for _ in range(2):
        httpx.put(f"{emulator.admin_url}/prompts/pmpt_greeter", json=prompt).raise_for_status()
    response = client.responses.create(
        prompt={"id": "pmpt_greeter", "version": "1", "variables": {"customer": "Ada"}},
        input="Hello",
    )
    assert_schema("Response", response.model_dump(mode="json", exclude_unset=True))
    assert (response.model, response.instructions) == ("gpt-4o", "Greet Ada politely.")
    assert response.prompt is not None
    assert (response.prompt.id, response.prompt.version) == ("pmpt_greeter", "1")
    latest = client.responses.create(
        prompt={"id": "pmpt_greeter", "variables": {"customer": "Bo"}}, input="Hi"
    )
    assert latest.prompt is not None
    assert latest.prompt.version == "2"


def test_unknown_prompts_and_missing_variables_are_refused(
    client: OpenAI, emulator: BackgroundEmulator
) -> None:
    with pytest.raises(openai.NotFoundError, match="pmpt_nowhere"):
        client.responses.create(prompt={"id": "pmpt_nowhere"}, input="Hello")
    prompt = {"model": "gpt-4o", "instructions": "Help {{customer}}."}
    httpx.put(f"{emulator.admin_url}/prompts/pmpt_helper", json=prompt).raise_for_status()
    with pytest.raises(openai.BadRequestError, match="customer"):
        client.responses.create(prompt={"id": "pmpt_helper"}, input="Hello")
