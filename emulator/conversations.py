"""Conversations and their items; responses created with `conversation` append to them."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from emulator.errors import APIError
from emulator.http import deleted, emulator, json_body, list_page, ok
from emulator.response_items import stored_items
from emulator.store import JSON, Collection, Entry, Store, new_id


def conversations(store: Store) -> Collection:
    return store.collection("conversations", "conversation")


def conversation_items(store: Store) -> Collection:
    return store.collection("conversation_items", "conversation item")


def find_conversation(store: Store, conversation_id: str, param: str | None = None) -> Entry:
    entry = conversations(store).find(conversation_id)
    if entry is None:
        raise APIError(404, f"Conversation with id '{conversation_id}' not found.", param=param)
    return entry


def items_of(store: Store, conversation_id: str) -> list[JSON]:
    return [entry.public for entry in conversation_items(store).of(conversation_id)]


def append_items(store: Store, conversation_id: str, items: list[JSON]) -> None:
    """Add items to the conversation, if it still exists."""
    if conversations(store).find(conversation_id) is None:
        return
    for item in items:
        conversation_items(store).add(item["id"], dict(item), parent=conversation_id)


async def create(request: Request) -> Response:
    body = await json_body(request, "createConversation")
    store = emulator(request).store
    items = stored_items(body.get("items") or [], "items")
    conversation: JSON = {
        "id": new_id("conv_"),
        "object": "conversation",
        "created_at": store.now(),
        "metadata": body.get("metadata") or {},
    }
    conversations(store).add(conversation["id"], conversation)
    append_items(store, conversation["id"], items)
    return ok(conversation)


async def retrieve(request: Request) -> Response:
    store = emulator(request).store
    return ok(find_conversation(store, request.path_params["conversation_id"]).public)


async def update(request: Request) -> Response:
    body = await json_body(request, "updateConversation")
    store = emulator(request).store
    conversation = find_conversation(store, request.path_params["conversation_id"]).public
    conversation["metadata"] = body["metadata"] or {}
    return ok(conversation)


async def delete(request: Request) -> Response:
    store = emulator(request).store
    conversation_id = request.path_params["conversation_id"]
    find_conversation(store, conversation_id)
    for item in items_of(store, conversation_id):
        conversation_items(store).remove(item["id"], parent=conversation_id)
    conversations(store).remove(conversation_id)
    return deleted(conversation_id, "conversation")


async def create_items(request: Request) -> Response:
    body = await json_body(request, "createConversationItems")
    store = emulator(request).store
    conversation_id = request.path_params["conversation_id"]
    find_conversation(store, conversation_id)
    items = stored_items(body["items"], "items")
    append_items(store, conversation_id, items)
    return ok(
        {
            "object": "list",
            "data": items,
            "has_more": False,
            "first_id": items[0]["id"] if items else None,
            "last_id": items[-1]["id"] if items else None,
        }
    )


async def list_items(request: Request) -> Response:
    store = emulator(request).store
    conversation_id = request.path_params["conversation_id"]
    find_conversation(store, conversation_id)
    return ok(list_page(request, items_of(store, conversation_id)))


def _item(store: Store, request: Request) -> JSON:
    conversation_id = request.path_params["conversation_id"]
    item_id = request.path_params["item_id"]
    find_conversation(store, conversation_id)
    if item_id not in conversation_items(store).children.get(conversation_id, {}):
        raise APIError(404, f"Item with id '{item_id}' not found.")
    return conversation_items(store).get(item_id).public


async def retrieve_item(request: Request) -> Response:
    return ok(_item(emulator(request).store, request))


async def delete_item(request: Request) -> Response:
    store = emulator(request).store
    item = _item(store, request)
    conversation_id = request.path_params["conversation_id"]
    conversation_items(store).remove(item["id"], parent=conversation_id)
    return ok(find_conversation(store, conversation_id).public)


def routes() -> list[BaseRoute]:
    conversation = "/conversations/{conversation_id}"
    return [
        Route("/conversations", create, methods=["POST"]),
        Route(conversation, retrieve, methods=["GET"]),
        Route(conversation, update, methods=["POST"]),
        Route(conversation, delete, methods=["DELETE"]),
        Route(f"{conversation}/items", create_items, methods=["POST"]),
        Route(f"{conversation}/items", list_items, methods=["GET"]),
        Route(f"{conversation}/items/{{item_id}}", retrieve_item, methods=["GET"]),
        Route(f"{conversation}/items/{{item_id}}", delete_item, methods=["DELETE"]),
    ]
