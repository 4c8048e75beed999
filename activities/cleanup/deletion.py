"""Deleting what a cleanup chose: idempotent, resumable, one item at a time."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

import openai
from openai import AsyncOpenAI
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.openai_errors import api_errors
from workflows.cleanup.contracts import CleanupItem, CleanupKind
from workflows.cleanup.steps import DELETE_RESOURCES, DeleteResources


class CleanupDeletion:
    """The cleanup step that deletes a page of threads, vector stores or files."""

    def __init__(self, openai_client: AsyncOpenAI) -> None:
        self.openai = openai_client

    @activity.defn(name=DELETE_RESOURCES.name)
    async def delete(self, request: DeleteResources) -> list[CleanupItem]:
        """Delete each item; gone already counts as deleted. Returns those the API refused
        (reason set). Transient errors retry the activity, which resumes where it stopped."""
        details = activity.info().heartbeat_details
        start = int(details[0]) if details else 0
        refused: list[CleanupItem] = list(details[1]) if len(details) > 1 else []
        for index in range(start, len(request.items)):
            item = request.items[index]
            try:
                with api_errors(f"deleting {item.id}"), contextlib.suppress(openai.NotFoundError):
                    await self._deleter(item.kind)(item.id)
            except ApplicationError as err:
                if not err.non_retryable:
                    raise
                refused.append(item.model_copy(update={"reason": err.message}))
            activity.heartbeat(index + 1, [r.model_dump() for r in refused])
        return [CleanupItem.model_validate(r) for r in refused]

    def _deleter(self, kind: CleanupKind) -> Callable[[str], Awaitable[object]]:
        deleters: dict[CleanupKind, Callable[[str], Awaitable[object]]] = {
            "threads": self.openai.beta.threads.delete,
            "vector_stores": self.openai.vector_stores.delete,
            "files": self.openai.files.delete,
        }
        return deleters[kind]
