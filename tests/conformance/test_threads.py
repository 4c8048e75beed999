"""Threads and messages through the official SDK."""

from __future__ import annotations

import openai
import pytest
from openai import AsyncOpenAI, OpenAI


def test_thread_with_messages_and_metadata(client: OpenAI) -> None:
    thread = client.beta.threads.create(
        messages=[{"role": "user", "content": "first"}, {"role": "user", "content": "second"}],
        metadata={"user": "42"},
    )
    assert thread.id.startswith("thread_")
    listed = client.beta.threads.messages.list(thread.id, order="asc")
    assert [m.content[0].text.value for m in listed.data] == ["first", "second"]  # type: ignore[union-attr]
    assert client.beta.threads.update(thread.id, metadata={"user": "43"}).metadata == {"user": "43"}
    assert client.beta.threads.delete(thread.id).deleted
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.retrieve(thread.id)


def test_message_crud(client: OpenAI) -> None:
    thread = client.beta.threads.create()
    message = client.beta.threads.messages.create(
        thread.id, role="user", content=[{"type": "text", "text": "hi"}], metadata={"a": "1"}
    )
    assert message.id.startswith("msg_")
    assert message.status == "completed"
    fetched = client.beta.threads.messages.retrieve(message.id, thread_id=thread.id)
    assert fetched.content[0].text.value == "hi"  # type: ignore[union-attr]
    updated = client.beta.threads.messages.update(
        message.id, thread_id=thread.id, metadata={"a": "2"}
    )
    assert updated.metadata == {"a": "2"}
    assert client.beta.threads.messages.delete(message.id, thread_id=thread.id).deleted
    assert client.beta.threads.messages.list(thread.id).data == []


def test_message_of_another_thread_is_not_found(client: OpenAI) -> None:
    one, two = client.beta.threads.create(), client.beta.threads.create()
    message = client.beta.threads.messages.create(one.id, role="user", content="x")
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.messages.retrieve(message.id, thread_id=two.id)


def test_bad_role_is_400_naming_the_field(client: OpenAI) -> None:
    thread = client.beta.threads.create()
    with pytest.raises(openai.BadRequestError) as raised:
        client.beta.threads.messages.create(thread.id, role="bot", content="x")  # type: ignore[arg-type]
    assert raised.value.body["param"] == "role"  # type: ignore[index]


def test_counters_count_created_messages_per_thread(client: OpenAI, counters) -> None:  # type: ignore[no-untyped-def]
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "a"}])
    client.beta.threads.messages.create(thread.id, role="user", content="b")
    assert counters()["messages_created"][thread.id] == 2


async def test_async_messages(aclient: AsyncOpenAI) -> None:
    thread = await aclient.beta.threads.create()
    await aclient.beta.threads.messages.create(thread.id, role="user", content="async hi")
    page = await aclient.beta.threads.messages.list(thread.id)
    assert page.data[0].content[0].text.value == "async hi"  # type: ignore[union-attr]
