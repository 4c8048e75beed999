"""Publishing the answer's text to the run's workflow while the model writes it.

An activity that follows the model's stream hands each text delta to a `TextPublisher`,
which signals them to its workflow (`publish_progress`) in batches: the first delta at once,
so a follower sees the first token without waiting for a batch, then whatever arrived every
`interval` seconds, an interval that doubles every `BATCHES_PER_DOUBLING` batches: a long
answer is still seen as it grows, while the history it costs grows with the logarithm of its
length (about 300 signals for ten minutes of text, 420 for an hour), never per token. The
text still unsent when the step ends is not sent (the workflow completes each message from
its final text). A batch that fails to send is sent again with the next one; the workflow
drops chunks it already has.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from types import TracebackType

from temporalio import activity
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from workflows.run.progress import PUBLISH_SIGNAL, ProgressBatch, TextChunk

BATCH_SECONDS = 0.2
BATCHES_PER_DOUBLING = 50
MAX_BATCH_CHARS = 100_000
log = logging.getLogger(__name__)


class TextPublisher:
    """Batches text chunks to the workflow of the running activity (or drops them, when
    the run asked for no streaming)."""

    def __init__(self, enabled: bool, interval: float = BATCH_SECONDS) -> None:
        self.handle: WorkflowHandle[object, object] | None = None
        if enabled:
            info = activity.info()
            self.handle = activity.client().get_workflow_handle(
                info.workflow_id or "", run_id=info.workflow_run_id
            )
        self.interval = interval
        self.unsent: list[TextChunk] = []  # in order; the head may be on its way already
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def text(self, message_id: str, sequence: int, delta: str) -> None:
        if self.handle is None:
            return
        self.unsent.append(TextChunk(message_id=message_id, sequence=sequence, delta=delta))
        self.wake.set()

    def unsent_from(self) -> int | None:
        """The sequence of the first chunk not known to have arrived (None: all arrived)."""
        return self.unsent[0].sequence if self.unsent else None

    async def __aenter__(self) -> TextPublisher:
        if self.handle is not None:
            self.task = asyncio.create_task(self._send_in_batches())
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.task is None:
            return
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        # What is left is not sent: the workflow takes it from the message's final text when
        # the step's result arrives, a signal (and workflow task) fewer per step.

    async def _send_in_batches(self) -> None:
        await self.wake.wait()  # the first delta goes at once
        sent = 0
        while self.handle is not None:
            await self._send()
            await asyncio.sleep(pause_after(sent, self.interval))
            sent += 1

    async def _send(self) -> None:
        while self.handle is not None and self.unsent:
            batch = _batch(self.unsent)
            try:
                await self.handle.signal(PUBLISH_SIGNAL, ProgressBatch(chunks=batch))
            except RPCError as err:
                if err.status == RPCStatusCode.NOT_FOUND:  # the run has ended: nobody to tell
                    self.handle = None
                else:
                    log.warning("live progress: %s (sent again with the next batch)", err.message)
                return
            del self.unsent[: len(batch)]


def pause_after(batches: int, interval: float) -> float:
    """The pause after the first `batches` + 1 batches: `interval`, doubled every
    `BATCHES_PER_DOUBLING` batches."""
    return float(interval * 2 ** (batches // BATCHES_PER_DOUBLING))


def _batch(chunks: list[TextChunk]) -> list[TextChunk]:
    """The first chunks, up to MAX_BATCH_CHARS of text (a signal stays far below Temporal's
    payload limit however fast the model writes)."""
    size = 0
    for count, chunk in enumerate(chunks):
        size += len(chunk.delta)
        if size > MAX_BATCH_CHARS and count:
            return chunks[:count]
    return list(chunks)
