"""Assistants through the official SDK; every response is checked against the spec."""

from __future__ import annotations

import openai
import pytest
from openai import AsyncOpenAI, OpenAI
from openai.types.beta import FunctionToolParam

WEATHER: FunctionToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather of a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def test_create_retrieve_modify_delete(client: OpenAI) -> None:
    created = client.beta.assistants.create(
        model="gpt-4o",
        name="helper",
        instructions="Be brief.",
        tools=[WEATHER],
        metadata={"team": "a"},
    )
    assert created.id.startswith("asst_")
    assert client.beta.assistants.retrieve(created.id).tools[0].type == "function"

    updated = client.beta.assistants.update(created.id, name="renamed", metadata={"team": "b"})
    assert (updated.name, updated.metadata) == ("renamed", {"team": "b"})
    assert updated.instructions == "Be brief."

    result = client.beta.assistants.delete(created.id)
    assert result.deleted
    with pytest.raises(openai.NotFoundError, match=f"No assistant found with id '{created.id}'"):
        client.beta.assistants.retrieve(created.id)


def test_list_pages_with_after_and_has_more(client: OpenAI) -> None:
    ids = [client.beta.assistants.create(model="gpt-4o", name=f"p{i}").id for i in range(5)]
    first = client.beta.assistants.list(limit=2, order="asc", after=ids[0])
    assert [a.id for a in first.data] == ids[1:3]
    assert first.has_more
    second = client.beta.assistants.list(limit=2, order="asc", after=ids[2])
    assert [a.id for a in second.data] == ids[3:5]
    newest = client.beta.assistants.list(limit=1)
    assert newest.data[0].id == ids[-1]


def test_invalid_parameters_are_400_naming_the_parameter(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        client.beta.assistants.create(model="gpt-4o", temperature=5)
    assert raised.value.body["param"] == "temperature"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as raised:
        client.beta.assistants.create(model="gpt-4o", tools=[{"type": "nope"}])  # type: ignore[list-item,misc]
    assert "Supported values are: 'code_interpreter', 'file_search', 'function'" in str(
        raised.value
    )


def test_metadata_limits_are_enforced(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="at most 16 properties"):
        client.beta.assistants.create(model="gpt-4o", metadata={f"k{i}": "v" for i in range(17)})
    with pytest.raises(openai.BadRequestError, match="maximum length 512"):
        client.beta.assistants.create(model="gpt-4o", metadata={"k": "v" * 513})


async def test_async_client_round_trip(aclient: AsyncOpenAI) -> None:
    created = await aclient.beta.assistants.create(model="gpt-4o", name="async")
    assert (await aclient.beta.assistants.retrieve(created.id)).name == "async"
    assert (await aclient.beta.assistants.delete(created.id)).deleted
