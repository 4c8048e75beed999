"""Deleting what a cleanup chose: idempotent, resumable, one item at a time; a thread is
checked once more right before it goes, so one that a workflow took up meanwhile stays."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

import openai
from openai import AsyncOpenAI
from openai.types.responses import Response
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.cleanup.holders import thread_in_use
from activities.openai_errors import api_errors
from activities.run.steps import RunSteps
from workflows.cleanup.contracts import CleanupItem, CleanupKind
from workflows.cleanup.steps import DELETE_RESOURCES, DeleteResources, Deletion
from workflows.search_attributes import OPENAI_RUN_ID

IN_USE = "in use by an open workflow (checked again before deleting)"


class CleanupDeletion:
    """The cleanup step that deletes a page of threads, vector stores or files."""

    def __init__(self, openai_client: AsyncOpenAI, temporal: Client, steps: RunSteps) -> None:
        self.openai = openai_client
        self.temporal = temporal
        self.steps = steps

    @activity.defn(name=DELETE_RESOURCES.name)
    async def delete(self, request: DeleteResources) -> Deletion:
        """Delete each item; gone already counts as deleted. Transient errors retry the
        activity, which resumes where it stopped (its progress is in its heartbeats)."""
        details = activity.info().heartbeat_details
        done = Deletion.model_validate(details[1]) if len(details) > 1 else Deletion()
        for index in range(int(details[0]) if details else 0, len(request.items)):
            item = request.items[index]
            chain = await self._chain_of(item) if item.kind == "threads" else []
            if item.kind == "threads" and await self._in_use(item, chain):
                done.kept.append(item.model_copy(update={"reason": IN_USE}))
            else:
                refused = await self._delete(item, chain)
                if refused is not None:
                    done.refused.append(item.model_copy(update={"reason": refused}))
            activity.heartbeat(index + 1, done.model_dump())
        return done

    async def _in_use(self, item: CleanupItem, chain: list[Response]) -> bool:
        """Checked again right before it goes: a workflow that took it up meanwhile (on
        responses: took up any response of the chain) keeps it."""
        return await thread_in_use(self.temporal, item.id, responses=[r.id for r in chain])

    async def _chain_of(self, item: CleanupItem) -> list[Response]:
        """The responses of ours of the chain a first response of ours began (walked back
        from the last response of each run that used it); none for an API thread."""
        if not item.id.startswith("resp_") or item.foreign:
            return []
        query = f'OpenAIThreadId = "{item.id}" AND OpenAIRunId IS NOT NULL'
        heads = [
            head
            async for execution in self.temporal.list_workflows(query)
            if (head := execution.typed_search_attributes.get(OPENAI_RUN_ID))
        ]
        return await self.steps.responses.chain(item.id, heads)

    async def _delete(self, item: CleanupItem, chain: list[Response]) -> str | None:
        """None once deleted (or gone already); the API's reason when it refuses."""
        try:
            with api_errors(f"deleting {item.id}"), contextlib.suppress(openai.NotFoundError):
                if item.kind == "threads":
                    await self._delete_thread(item, chain)
                else:
                    await self._deleter(item.kind)(item.id)
        except ApplicationError as err:
            if not err.non_retryable:
                raise
            return err.message
        return None

    async def _delete_thread(self, item: CleanupItem, chain: list[Response]) -> None:
        """A thread; on responses every response of ours of the chain its first response
        began, or a response this system did not make (`include_foreign`): only itself."""
        if not item.id.startswith("resp_"):
            await self.steps.assistants.delete_thread(item.id)
        elif item.foreign:
            await self.openai.responses.delete(item.id)
        else:
            await self.steps.responses.delete_responses(chain)

    def _deleter(self, kind: CleanupKind) -> Callable[[str], Awaitable[object]]:
        deleters: dict[CleanupKind, Callable[[str], Awaitable[object]]] = {
            "vector_stores": self.openai.vector_stores.delete,
            "files": self.openai.files.delete,
        }
        return deleters[kind]
