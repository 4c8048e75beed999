"""Conversations and their items through the official SDK; every response is checked against
the spec by the fixtures."""

from __future__ import annotations

from collections.abc import Sequence

import openai
import pytest
from openai import AsyncOpenAI, OpenAI
from openai.types.conversations import ConversationItem


def test_create_retrieve_update_delete(client: OpenAI) -> None:
    created = client.conversations.create(
        metadata={"team": "a"}, items=[{"role": "user", "content": "Hello"}]
    )
    assert created.id.startswith("conv_")
    assert (created.object, created.metadata) == ("conversation", {"team": "a"})
    assert client.conversations.retrieve(created.id).created_at == created.created_at

    updated = client.conversations.update(created.id, metadata={"team": "b"})
    assert updated.metadata == {"team": "b"}

    result = client.conversations.delete(created.id)
    assert (result.id, result.object, result.deleted) == (created.id, "conversation.deleted", True)
    with pytest.raises(
        openai.NotFoundError, match=f"Conversation with id '{created.id}' not found"
    ):
        client.conversations.retrieve(created.id)


def item_ids(items: Sequence[ConversationItem]) -> list[str]:
    return [item.model_dump()["id"] for item in items]


def test_items_create_list_retrieve_delete(client: OpenAI) -> None:
    conversation = client.conversations.create(items=[{"role": "user", "content": "First"}])
    added = client.conversations.items.create(
        conversation.id,
        items=[
            {"type": "message", "role": "assistant", "content": "Second"},
            {"role": "user", "content": "Third"},
        ],
    )
    assert [item_id[:4] for item_id in item_ids(added.data)] == ["msg_", "msg_"]
    listed = [
        item.model_dump() for item in client.conversations.items.list(conversation.id, order="asc")
    ]
    assert [(item["content"][0]["type"], item["content"][0]["text"]) for item in listed] == [
        ("input_text", "First"),
        ("output_text", "Second"),
        ("input_text", "Third"),
    ]
    first, second, third = (item["id"] for item in listed)

    page = client.conversations.items.list(conversation.id, limit=2)
    assert page.has_more
    assert item_ids(page.data) == [third, second], "newest first"
    after = client.conversations.items.list(conversation.id, limit=2, after=second)
    assert item_ids(after.data) == [first]
    assert not after.has_more

    one = client.conversations.items.retrieve(second, conversation_id=conversation.id)
    assert item_ids([one]) == [second]
    remaining = client.conversations.items.delete(second, conversation_id=conversation.id)
    assert remaining.id == conversation.id
    with pytest.raises(openai.NotFoundError, match=f"Item with id '{second}' not found"):
        client.conversations.items.retrieve(second, conversation_id=conversation.id)
    assert item_ids(client.conversations.items.list(conversation.id).data) == [third, first]


def test_items_of_one_conversation_are_not_found_in_another(client: OpenAI) -> None:
    first = client.conversations.create(items=[{"role": "user", "content": "Mine"}])
    other = client.conversations.create()
    [item_id] = item_ids(client.conversations.items.list(first.id).data)
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.retrieve(item_id, conversation_id=other.id)
    with pytest.raises(openai.NotFoundError, match="Conversation with id 'conv_missing'"):
        client.conversations.items.list("conv_missing")


def test_unsupported_item_types_are_rejected(client: OpenAI) -> None:
    conversation = client.conversations.create()
    with pytest.raises(openai.BadRequestError) as error:
        client.conversations.items.create(
            conversation.id, items=[{"type": "reasoning", "id": "rs_1", "summary": []}]
        )
    assert error.value.param == "items[0].type"


async def test_async_conversation_with_a_response(aclient: AsyncOpenAI) -> None:
    conversation = await aclient.conversations.create(metadata={"via": "async"})
    response = await aclient.responses.create(
        model="gpt-4o", input="Remember me", conversation=conversation.id
    )
    assert response.status == "completed"
    items = (await aclient.conversations.items.list(conversation.id, order="asc")).data
    assert [getattr(item, "role", None) for item in items] == ["user", "assistant"]
    follow_up = await aclient.responses.create(
        model="gpt-4o", input="And now?", conversation=conversation.id
    )
    assert 'You said: "And now?"' in follow_up.output_text
    assert len((await aclient.conversations.items.list(conversation.id)).data) == 4
    deleted = await aclient.conversations.delete(conversation.id)
    assert deleted.deleted
