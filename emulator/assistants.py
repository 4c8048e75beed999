"""Assistants: create, retrieve, modify, list, delete."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from emulator import vector_stores
from emulator.http import deleted, emulator, json_body, list_page, ok
from emulator.store import JSON, Collection, Store, new_id

_MUTABLE = (
    "model",
    "name",
    "description",
    "instructions",
    "tools",
    "metadata",
    "temperature",
    "top_p",
    "response_format",
)


def assistants(store: Store) -> Collection:
    return store.collection("assistants", "assistant")


def tool_resources(store: Store, requested: dict[str, Any] | None) -> JSON:
    """`tool_resources` as the API stores them: inline vector stores are created."""
    resources: JSON = {}
    for kind, value in (requested or {}).items():
        if not value:
            continue
        resource = dict(value)
        if kind == "file_search":
            inline = resource.pop("vector_stores", None) or []
            created = [
                vector_stores.create_for_thread(store, v.get("file_ids", [])) for v in inline
            ]
            resource["vector_store_ids"] = list(resource.get("vector_store_ids", [])) + created
        resources[kind] = resource
    return resources


async def create_assistant(request: Request) -> Response:
    body = await json_body(request, "createAssistant")
    store = emulator(request).store
    assistant = {
        "id": new_id("asst_"),
        "object": "assistant",
        "created_at": store.now(),
        "name": None,
        "description": None,
        "instructions": None,
        "tools": [],
        "metadata": {},
        "top_p": 1.0,
        "temperature": 1.0,
        "response_format": "auto",
        **{key: body[key] for key in _MUTABLE if body.get(key) is not None},
        "tool_resources": tool_resources(store, body.get("tool_resources")),
    }
    assistants(store).add(assistant["id"], assistant)
    store.counters.count("assistants_created")
    return ok(assistant)


async def get_assistant(request: Request) -> Response:
    store = emulator(request).store
    return ok(assistants(store).get(request.path_params["assistant_id"]).public)


async def modify_assistant(request: Request) -> Response:
    body = await json_body(request, "modifyAssistant")
    store = emulator(request).store
    assistant = assistants(store).get(request.path_params["assistant_id"]).public
    assistant.update({key: body[key] for key in _MUTABLE if key in body})
    if "tool_resources" in body:
        assistant["tool_resources"] = tool_resources(store, body["tool_resources"])
    return ok(assistant)


async def list_assistants(request: Request) -> Response:
    store = emulator(request).store
    return ok(list_page(request, [e.public for e in assistants(store).entries.values()]))


async def delete_assistant(request: Request) -> Response:
    assistant_id = request.path_params["assistant_id"]
    store = emulator(request).store
    assistants(store).get(assistant_id)
    assistants(store).remove(assistant_id)
    return deleted(assistant_id, "assistant")


def routes() -> list[BaseRoute]:
    return [
        Route("/assistants", create_assistant, methods=["POST"]),
        Route("/assistants", list_assistants, methods=["GET"]),
        Route("/assistants/{assistant_id}", get_assistant, methods=["GET"]),
        Route("/assistants/{assistant_id}", modify_assistant, methods=["POST"]),
        Route("/assistants/{assistant_id}", delete_assistant, methods=["DELETE"]),
    ]
