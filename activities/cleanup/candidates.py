"""Finding old threads, vector stores and files, a page at a time, and what must be kept.

Only what this system created is a candidate (see `activities.ownership`) unless the policy
says `include_foreign`. The API cannot list threads, so the threads are found in Temporal's
own visibility: the `OpenAIThreadId` search attribute of the workflows that used them, whose
last one closed before the cutoff. A thread any open workflow uses is never deleted; on the
responses backend the attribute holds the first response of the chain, so a chain any of
whose responses an open (or recently closed) conversation or run holds stays whole.
"""

from __future__ import annotations

import base64
import contextlib
import time
from datetime import UTC, datetime

import openai
from openai import AsyncOpenAI
from temporalio import activity
from temporalio.client import Client

from activities.cleanup.holders import thread_in_use
from activities.heartbeats import heartbeating
from activities.openai_errors import api_errors
from activities.ownership import is_owned, owned_file_digest, thread_of
from workflows.cleanup.contracts import CleanupItem, CleanupPolicy
from workflows.cleanup.steps import FIND_CANDIDATES, PAGE, Candidates, FindCandidates
from workflows.search_attributes import OPENAI_ASSISTANT_ID, OPENAI_THREAD_ID

FOREIGN = "not created by durable-assistants"
UNTAGGED = (
    "a response made before threads were tagged: whether its chain is in use is unknown "
    "(OpenAI deletes it after 30 days)"
)
IN_USE_CACHE_SECONDS = 60.0


class CleanupCandidates:
    """The cleanup step that finds, in one page, what a policy names and what must be kept."""

    def __init__(self, openai_client: AsyncOpenAI, temporal: Client) -> None:
        self.openai = openai_client
        self.temporal = temporal
        self._in_use_cache: tuple[float, float, set[str], set[str]] | None = None

    @activity.defn(name=FIND_CANDIDATES.name)
    async def find_candidates(self, request: FindCandidates) -> Candidates:
        policy, now = request.policy, request.now
        async with heartbeating():
            with api_errors(f"finding old {request.kind}"):
                if request.kind == "threads":
                    cutoff = now - (policy.thread_max_age_seconds or 0)
                    return await self._threads(policy, cutoff, request.cursor)
                stores, files = await self._in_use(policy, now)
                if request.kind == "vector_stores":
                    cutoff = now - (policy.vector_store_max_age_seconds or 0)
                    return await self._vector_stores(policy, cutoff, stores, request.cursor)
                cutoff = now - (policy.file_max_age_seconds or 0)
                return await self._files(policy, cutoff, files, request.cursor)

    async def _threads(
        self, policy: CleanupPolicy, cutoff: float, cursor: str | None
    ) -> Candidates:
        """Threads of workflows closed before the cutoff that no workflow used since."""
        moment = _timestamp(cutoff)
        closed = f'ExecutionStatus != "Running" AND CloseTime < "{moment}"'
        query = _and(f"OpenAIThreadId IS NOT NULL AND {closed}", policy.workflow_query)
        token = base64.b64decode(cursor) if cursor else None
        listed = self.temporal.list_workflows(query, page_size=PAGE, next_page_token=token)
        await listed.fetch_next_page()
        threads = {
            e.typed_search_attributes.get(OPENAI_THREAD_ID) for e in listed.current_page or []
        }
        found = Candidates(delete=[], keep=[], next_cursor=_cursor(listed.next_page_token))
        for thread in sorted(t for t in threads if t):
            if await thread_in_use(self.temporal, thread, since=_moment(cutoff)):
                continue
            metadata = await self._thread_metadata(thread)
            if metadata is None:
                continue  # gone already
            item = CleanupItem(kind="threads", id=thread)
            if is_owned(metadata) and _untagged_response(thread, metadata):
                found.keep.append(item.model_copy(update={"reason": UNTAGGED}))
            else:
                _decide(found, item, is_owned(metadata), policy)
        return found

    async def _thread_metadata(self, thread: str) -> dict[str, str] | None:
        """The thread's metadata (the responses backend's: its last response's); None if gone."""
        try:
            if thread.startswith("resp_"):
                return dict((await self.openai.responses.retrieve(thread)).metadata or {})
            return dict((await self.openai.beta.threads.retrieve(thread)).metadata or {})
        except openai.NotFoundError:
            return None

    async def _vector_stores(
        self, policy: CleanupPolicy, cutoff: float, in_use: set[str], cursor: str | None
    ) -> Candidates:
        page = await self.openai.vector_stores.list(
            limit=PAGE, order="asc", after=cursor or openai.omit
        )
        listed = [o.id for o in page.data]
        found = Candidates(
            delete=[], keep=[], next_cursor=_next(listed, page.has_more), page_ids=listed
        )
        for store in page.data:
            metadata = store.metadata or {}
            if store.created_at >= cutoff or any(
                metadata.get(k) != v for k, v in policy.metadata.items()
            ):
                continue
            item = CleanupItem(kind="vector_stores", id=store.id)
            if store.id in in_use and not policy.delete_in_use:
                reason = "attached to an assistant that ran recently"
                found.keep.append(item.model_copy(update={"reason": reason}))
            else:
                _decide(found, item, is_owned(metadata), policy)
        return found

    async def _files(
        self, policy: CleanupPolicy, cutoff: float, in_use: set[str], cursor: str | None
    ) -> Candidates:
        page = await self.openai.files.list(
            purpose="assistants", limit=PAGE, order="asc", after=cursor or openai.omit
        )
        listed = [o.id for o in page.data]
        found = Candidates(
            delete=[], keep=[], next_cursor=_next(listed, page.has_more), page_ids=listed
        )
        for file in page.data:
            if file.created_at >= cutoff:
                continue
            item = CleanupItem(kind="files", id=file.id)
            if file.id in in_use and not policy.delete_in_use:
                found.keep.append(item.model_copy(update={"reason": "in a vector store in use"}))
            else:
                _decide(found, item, owned_file_digest(file.filename) is not None, policy)
        return found

    async def _in_use(self, policy: CleanupPolicy, now: float) -> tuple[set[str], set[str]]:
        """Vector stores of the assistants that ran within `in_use_seconds`, and their files
        (kept for a minute: every page of a sweep asks the same)."""
        since = now - policy.in_use_seconds
        cached = self._in_use_cache
        if cached and cached[0] == since and time.monotonic() - cached[1] < IN_USE_CACHE_SECONDS:
            return cached[2], cached[3]
        stores = await self._stores_in_use(since)
        files: set[str] = set()
        for store in stores:
            with contextlib.suppress(openai.NotFoundError):
                listed = self.openai.vector_stores.files.list(store, limit=100)
                files.update([entry.id async for entry in listed])
        self._in_use_cache = (since, time.monotonic(), stores, files)
        return stores, files

    async def _stores_in_use(self, since: float) -> set[str]:
        query = f'OpenAIAssistantId IS NOT NULL AND StartTime > "{_timestamp(since)}"'
        in_use: set[str] = set()
        assistants: set[str] = set()
        async for execution in self.temporal.list_workflows(query):
            assistant_id = execution.typed_search_attributes.get(OPENAI_ASSISTANT_ID)
            if assistant_id:
                assistants.add(assistant_id)
        for assistant_id in assistants:
            with contextlib.suppress(openai.NotFoundError):
                assistant = await self.openai.beta.assistants.retrieve(assistant_id)
                search = assistant.tool_resources and assistant.tool_resources.file_search
                in_use.update(search.vector_store_ids or [] if search else [])
        return in_use


def _untagged_response(thread: str, metadata: dict[str, str]) -> bool:
    """A response of ours made before responses were tagged with their thread: whether any
    response of its chain is still held cannot be told, so it stays (OpenAI deletes stored
    responses after 30 days)."""
    return thread.startswith("resp_") and thread_of(thread, metadata) != thread


def _decide(found: Candidates, item: CleanupItem, owned: bool, policy: CleanupPolicy) -> None:
    """Ours is deleted; what is not ours only when the policy includes foreign objects."""
    if owned:
        found.delete.append(item)
    elif policy.include_foreign:
        found.delete.append(item.model_copy(update={"foreign": True, "reason": FOREIGN}))
    else:
        found.keep.append(item.model_copy(update={"foreign": True, "reason": FOREIGN}))


def _timestamp(seconds: float) -> str:
    return _moment(seconds).isoformat()


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _and(query: str, extra: str | None) -> str:
    return f"{query} AND ({extra})" if extra else query


def _cursor(token: bytes | None) -> str | None:
    return base64.b64encode(token).decode() if token else None


def _next(ids: list[str], has_more: bool | None) -> str | None:
    """The cursor of the next page: the last id of this one, unless this was the last."""
    return ids[-1] if has_more and ids else None
