"""Threads and their messages."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from emulator.engine import advance_thread
from emulator.errors import invalid, not_found
from emulator.http import deleted, emulator, json_body, list_page, ok
from emulator.store import JSON, Store
from emulator.thread_data import (
    add_user_message,
    create_thread,
    messages,
    runs,
    thread_state,
    threads,
)


def start_thread(store: Store, request: JSON) -> JSON:
    """A new thread with its initial messages (the body of createThread)."""
    thread = create_thread(
        store, metadata=request.get("metadata"), tool_resources=request.get("tool_resources")
    )
    for message in request.get("messages") or []:
        add_user_message(store, thread["id"], message)
    return thread


def ensure_idle(store: Store, thread_id: str, adding: str) -> None:
    """Raise OpenAI's 400 if a run is active on the thread."""
    advance_thread(store, thread_id)
    active = thread_state(store, thread_id).active_run_id
    if active is None:
        return
    if adding == "message":
        raise invalid(f"Can't add messages to {thread_id} while a run {active} is active.")
    raise invalid(f"Thread {thread_id} already has an active run {active}.")


async def create(request: Request) -> Response:
    body = await json_body(request, "createThread")
    return ok(start_thread(emulator(request).store, body))


async def retrieve(request: Request) -> Response:
    return ok(threads(emulator(request).store).get(request.path_params["thread_id"]).public)


async def modify(request: Request) -> Response:
    body = await json_body(request, "modifyThread")
    thread = threads(emulator(request).store).get(request.path_params["thread_id"]).public
    for key in ("metadata", "tool_resources"):
        if body.get(key) is not None:
            thread[key] = body[key]
    return ok(thread)


async def delete(request: Request) -> Response:
    store = emulator(request).store
    thread_id = request.path_params["thread_id"]
    threads(store).get(thread_id)
    for message in messages(store).of(thread_id):
        messages(store).remove(message.public["id"], parent=thread_id)
    threads(store).remove(thread_id)
    return deleted(thread_id, "thread")


async def create_message(request: Request) -> Response:
    body = await json_body(request, "createMessage")
    store = emulator(request).store
    thread_id = request.path_params["thread_id"]
    threads(store).get(thread_id)
    ensure_idle(store, thread_id, "message")
    return ok(add_user_message(store, thread_id, body))


def _message_of_thread(store: Store, request: Request) -> JSON:
    thread_id = request.path_params["thread_id"]
    message_id = request.path_params["message_id"]
    threads(store).get(thread_id)
    message = messages(store).get(message_id).public
    if message["thread_id"] != thread_id:
        raise not_found("message", message_id)
    return message


async def list_messages(request: Request) -> Response:
    store = emulator(request).store
    thread_id = request.path_params["thread_id"]
    threads(store).get(thread_id)
    advance_thread(store, thread_id)
    run_id = request.query_params.get("run_id")
    if run_id is not None:
        runs(store).get(run_id)
    found = [
        entry.public
        for entry in messages(store).of(thread_id)
        if run_id is None or entry.public["run_id"] == run_id
    ]
    return ok(list_page(request, found))


async def retrieve_message(request: Request) -> Response:
    store = emulator(request).store
    advance_thread(store, request.path_params["thread_id"])
    return ok(_message_of_thread(store, request))


async def modify_message(request: Request) -> Response:
    body = await json_body(request, "modifyMessage")
    message = _message_of_thread(emulator(request).store, request)
    if body.get("metadata") is not None:
        message["metadata"] = body["metadata"]
    return ok(message)


async def delete_message(request: Request) -> Response:
    store = emulator(request).store
    message = _message_of_thread(store, request)
    messages(store).remove(message["id"], parent=message["thread_id"])
    return deleted(message["id"], "thread.message")


def routes() -> list[BaseRoute]:
    return [
        Route("/threads", create, methods=["POST"]),
        Route("/threads/{thread_id}", retrieve, methods=["GET"]),
        Route("/threads/{thread_id}", modify, methods=["POST"]),
        Route("/threads/{thread_id}", delete, methods=["DELETE"]),
        Route("/threads/{thread_id}/messages", create_message, methods=["POST"]),
        Route("/threads/{thread_id}/messages", list_messages, methods=["GET"]),
        Route("/threads/{thread_id}/messages/{message_id}", retrieve_message, methods=["GET"]),
        Route("/threads/{thread_id}/messages/{message_id}", modify_message, methods=["POST"]),
        Route("/threads/{thread_id}/messages/{message_id}", delete_message, methods=["DELETE"]),
    ]
