"""Waiting, before a run, until the vector stores it searches have finished indexing."""

from __future__ import annotations

import asyncio
import time

from openai import AsyncOpenAI
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.heartbeats import heartbeating
from activities.openai_errors import api_errors
from workflows.run.steps import WAIT_FOR_VECTOR_STORES, WaitForVectorStores


class VectorStoreReadiness:
    """The run step that waits for an assistant's and a thread's vector stores."""

    def __init__(
        self, client: AsyncOpenAI, poll_interval: float = 0.25, max_poll_interval: float = 2.0
    ) -> None:
        self.client = client
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval

    @activity.defn(name=WAIT_FOR_VECTOR_STORES.name)
    async def wait_for_vector_stores(self, request: WaitForVectorStores) -> list[str]:
        """Wait (bounded) until the file_search stores of the assistant and the thread have
        no file in progress; their ids."""
        async with heartbeating():
            with api_errors("waiting for vector stores"):
                stores = await self._vector_store_ids(request)
                deadline = time.monotonic() + request.timeout_seconds
                delay = self.poll_interval
                while busy := [s for s in stores if await self._indexing(s)]:
                    if time.monotonic() > deadline:
                        raise ApplicationError(
                            f"vector stores {', '.join(busy)} still indexing after "
                            f"{request.timeout_seconds:g}s",
                            type="VectorStoreNotReady",
                            non_retryable=True,
                        )
                    await asyncio.sleep(delay)
                    delay = min(delay * 1.5, self.max_poll_interval)
        return stores

    async def _vector_store_ids(self, request: WaitForVectorStores) -> list[str]:
        """The stores named, and on the assistants backend those of the assistant and thread."""
        ids = list(request.vector_store_ids)
        if request.backend == "assistants" and request.assistant_id:
            assistant = await self.client.beta.assistants.retrieve(request.assistant_id)
            found = assistant.tool_resources and assistant.tool_resources.file_search
            ids += found.vector_store_ids or [] if found else []
            if request.thread_id:
                thread = await self.client.beta.threads.retrieve(request.thread_id)
                of_thread = thread.tool_resources and thread.tool_resources.file_search
                ids += of_thread.vector_store_ids or [] if of_thread else []
        return list(dict.fromkeys(ids))

    async def _indexing(self, vector_store_id: str) -> bool:
        store = await self.client.vector_stores.retrieve(vector_store_id)
        return store.file_counts.in_progress > 0
