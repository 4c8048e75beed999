"""Finding old threads, vector stores and files, and what must be kept.

The API cannot list threads, so the threads this system created are found in Temporal's own
visibility: the `OpenAIThreadId` search attribute of `AssistantRun` and `AssistantThread`
workflows. A thread with an open workflow is never deleted.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import openai
from openai import AsyncOpenAI
from temporalio import activity
from temporalio.client import Client

from activities.heartbeats import heartbeating
from activities.openai_errors import api_errors
from workflows.cleanup.contracts import CleanupItem, CleanupPolicy
from workflows.cleanup.steps import FIND_CANDIDATES, Candidates, FindCandidates
from workflows.search_attributes import OPENAI_ASSISTANT_ID, OPENAI_THREAD_ID


class CleanupCandidates:
    """The cleanup step that finds what a policy names, and what must be kept."""

    def __init__(self, openai_client: AsyncOpenAI, temporal: Client) -> None:
        self.openai = openai_client
        self.temporal = temporal

    @activity.defn(name=FIND_CANDIDATES.name)
    async def find_candidates(self, request: FindCandidates) -> Candidates:
        policy, now = request.policy, request.now
        found = Candidates(delete=[], keep=[])
        async with heartbeating():
            with api_errors("finding old resources"):
                if policy.thread_max_age_seconds is not None:
                    await self._threads(policy, now - policy.thread_max_age_seconds, found)
                in_use = await self._vector_stores_in_use(now - policy.in_use_seconds)
                if policy.vector_store_max_age_seconds is not None:
                    cutoff = now - policy.vector_store_max_age_seconds
                    await self._vector_stores(policy, cutoff, in_use, found)
                if policy.file_max_age_seconds is not None:
                    cutoff = now - policy.file_max_age_seconds
                    await self._files(policy, cutoff, in_use, found)
        return found

    async def _threads(self, policy: CleanupPolicy, cutoff: float, found: Candidates) -> None:
        query = "OpenAIThreadId IS NOT NULL"
        last_used: dict[str, float] = {}
        async for execution in self.temporal.list_workflows(_and(query, policy.workflow_query)):
            thread = execution.typed_search_attributes.get(OPENAI_THREAD_ID)
            if thread:
                started = execution.start_time.timestamp()
                last_used[thread] = max(last_used.get(thread, 0.0), started)
        open_threads = await self._attribute_values(
            f'{query} AND ExecutionStatus = "Running"', OPENAI_THREAD_ID.name
        )
        for thread, used in sorted(last_used.items()):
            if thread in open_threads:
                found.keep.append(CleanupItem(kind="threads", id=thread, reason="open workflow"))
            elif used < cutoff:
                found.delete.append(CleanupItem(kind="threads", id=thread))

    async def _vector_stores_in_use(self, since: float) -> set[str]:
        """Vector stores of the assistants that ran since `since`."""
        moment = datetime.fromtimestamp(since, UTC).isoformat()
        query = f'OpenAIAssistantId IS NOT NULL AND StartTime > "{moment}"'
        in_use: set[str] = set()
        for assistant_id in await self._attribute_values(query, OPENAI_ASSISTANT_ID.name):
            with contextlib.suppress(openai.NotFoundError):
                assistant = await self.openai.beta.assistants.retrieve(assistant_id)
                search = assistant.tool_resources and assistant.tool_resources.file_search
                in_use.update(search.vector_store_ids or [] if search else [])
        return in_use

    async def _vector_stores(
        self, policy: CleanupPolicy, cutoff: float, in_use: set[str], found: Candidates
    ) -> None:
        async for store in self.openai.vector_stores.list(limit=100):
            metadata = store.metadata or {}
            if store.created_at >= cutoff or any(
                metadata.get(k) != v for k, v in policy.metadata.items()
            ):
                continue
            if store.id in in_use and not policy.delete_in_use:
                reason = "attached to an assistant that ran recently"
                found.keep.append(CleanupItem(kind="vector_stores", id=store.id, reason=reason))
            else:
                found.delete.append(CleanupItem(kind="vector_stores", id=store.id))

    async def _files(
        self, policy: CleanupPolicy, cutoff: float, in_use: set[str], found: Candidates
    ) -> None:
        used_files: set[str] = set()
        if not policy.delete_in_use:
            for store in in_use:
                with contextlib.suppress(openai.NotFoundError):
                    listed = self.openai.vector_stores.files.list(store, limit=100)
                    used_files.update([entry.id async for entry in listed])
        async for file in self.openai.files.list(purpose="assistants"):
            if file.created_at >= cutoff:
                continue
            if file.id in used_files:
                reason = "in a vector store in use"
                found.keep.append(CleanupItem(kind="files", id=file.id, reason=reason))
            else:
                found.delete.append(CleanupItem(kind="files", id=file.id))

    async def _attribute_values(self, query: str, attribute: str) -> set[str]:
        values: set[str] = set()
        async for execution in self.temporal.list_workflows(query):
            value = execution.search_attributes.get(attribute)
            values.update(str(v) for v in value or [])
        return values


def _and(query: str, extra: str | None) -> str:
    return f"{query} AND ({extra})" if extra else query
