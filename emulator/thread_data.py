"""Threads, messages, runs and run steps as stored objects, shared by their routes and the run
engine. No HTTP here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from emulator import vector_stores
from emulator.assistants import tool_resources as stored_tool_resources
from emulator.store import JSON, Collection, Store, new_id

ACTIVE_STATUSES = frozenset({"queued", "in_progress", "requires_action", "cancelling"})


@dataclass
class ThreadState:
    active_run_id: str | None = None
    injected_failures: int = 0


def threads(store: Store) -> Collection:
    return store.collection("threads", "thread")


def messages(store: Store) -> Collection:
    return store.collection("messages", "message")


def runs(store: Store) -> Collection:
    return store.collection("runs", "run")


def steps(store: Store) -> Collection:
    return store.collection("run_steps", "run step")


def thread_state(store: Store, thread_id: str) -> ThreadState:
    state: ThreadState = threads(store).get(thread_id).private
    return state


def create_thread(store: Store, *, metadata: Any = None, tool_resources: Any = None) -> JSON:
    thread: JSON = {
        "id": new_id("thread_"),
        "object": "thread",
        "created_at": store.now(),
        "metadata": metadata or {},
        "tool_resources": stored_tool_resources(store, tool_resources),
    }
    threads(store).add(thread["id"], thread, ThreadState())
    return thread


def content_parts(content: str | list[JSON]) -> list[JSON]:
    """Message content as the API returns it, from what a request may send."""
    if isinstance(content, str):
        return [_text_part(content)]
    return [_text_part(part["text"]) if part["type"] == "text" else part for part in content]


def _text_part(value: str, annotations: list[JSON] | None = None) -> JSON:
    return {"type": "text", "text": {"value": value, "annotations": annotations or []}}


def message_text(message: JSON) -> str:
    return "\n".join(part["text"]["value"] for part in message["content"] if part["type"] == "text")


def add_user_message(store: Store, thread_id: str, request: JSON) -> JSON:
    """A message created through the API (messages.create, thread or run creation)."""
    attachments = request.get("attachments") or []
    message = _message(
        store,
        thread_id,
        role=request["role"],
        content=content_parts(request["content"]),
        attachments=attachments,
        metadata=request.get("metadata") or {},
    )
    _index_attachments(store, thread_id, attachments)
    store.counters.count("messages_created")
    store.counters.count("messages_created", thread_id)
    return message


def add_assistant_message(
    store: Store,
    thread_id: str,
    *,
    text: str,
    annotations: list[JSON],
    assistant_id: str,
    run_id: str,
    status: str = "completed",
    created_at: int | None = None,
    images: list[str] | None = None,
) -> JSON:
    """An assistant message: its images (file ids) first, then its text."""
    pictures = [
        {"type": "image_file", "image_file": {"file_id": file_id, "detail": "auto"}}
        for file_id in images or []
    ]
    return _message(
        store,
        thread_id,
        role="assistant",
        content=[*pictures, _text_part(text, annotations)],
        assistant_id=assistant_id,
        run_id=run_id,
        status=status,
        created_at=created_at,
    )


def _message(
    store: Store,
    thread_id: str,
    *,
    role: str,
    content: list[JSON],
    attachments: list[JSON] | None = None,
    metadata: JSON | None = None,
    assistant_id: str | None = None,
    run_id: str | None = None,
    status: str = "completed",
    created_at: int | None = None,
) -> JSON:
    now = store.now() if created_at is None else created_at
    message: JSON = {
        "id": new_id("msg_"),
        "object": "thread.message",
        "created_at": now,
        "thread_id": thread_id,
        "status": status,
        "incomplete_details": {"reason": "max_tokens"} if status == "incomplete" else None,
        "completed_at": now if status == "completed" else None,
        "incomplete_at": now if status == "incomplete" else None,
        "role": role,
        "content": content,
        "assistant_id": assistant_id,
        "run_id": run_id,
        "attachments": attachments or [],
        "metadata": metadata or {},
    }
    messages(store).add(message["id"], message, parent=thread_id)
    return message


def _index_attachments(store: Store, thread_id: str, attachments: list[JSON]) -> None:
    """Files attached for file_search go into the thread's own vector store, as on OpenAI."""
    file_ids = [
        a["file_id"]
        for a in attachments
        if any(tool["type"] == "file_search" for tool in a.get("tools", []))
    ]
    if not file_ids:
        return
    resources = threads(store).get(thread_id).public["tool_resources"]
    search = resources.setdefault("file_search", {})
    search["vector_store_ids"] = [
        *search.get("vector_store_ids", []),
        vector_stores.create_for_thread(store, file_ids),
    ]
