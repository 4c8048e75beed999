"""The messages of a conversation waiting to be answered: in order, numbered, bounded (the
queue is carried whole through continue-as-new, so it must fit in one payload)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

from workflows.thread.contracts import (
    MAX_QUEUED_CHARS,
    MAX_QUEUED_MESSAGES,
    QueuedMessage,
    ThreadMessage,
)


class MessageQueue:
    def __init__(self, waiting: list[QueuedMessage], next_id: int) -> None:
        self.waiting = deque(waiting)
        self.next_id = next_id

    def __len__(self) -> int:
        return len(self.waiting)

    def __iter__(self) -> Iterator[QueuedMessage]:
        return iter(self.waiting)

    def no_room_for(self, message: ThreadMessage) -> str | None:
        """Why the queue cannot take `message`; None when it can."""
        chars = sum(len(q.message.content) for q in self.waiting) + len(message.content)
        if len(self.waiting) < MAX_QUEUED_MESSAGES and chars <= MAX_QUEUED_CHARS:
            return None
        return (
            f"queue full ({len(self.waiting)} messages waiting; at most "
            f"{MAX_QUEUED_MESSAGES} and {MAX_QUEUED_CHARS:,} characters)"
        )

    def add(self, message: ThreadMessage, answered_by_update: bool) -> QueuedMessage:
        queued = QueuedMessage(
            id=self.next_id, message=message, answered_by_update=answered_by_update
        )
        self.next_id += 1
        self.waiting.append(queued)
        return queued

    def take(self) -> QueuedMessage:
        return self.waiting.popleft()

    def callers_waiting(self) -> bool:
        """A message in the queue has a `send_message` caller waiting for its answer."""
        return any(queued.answered_by_update for queued in self.waiting)

    def number_after(self, earlier: int) -> None:
        """Number the queued messages after `earlier` ones (of the conversation's last run)."""
        for queued in self.waiting:
            queued.id += earlier
        self.next_id += earlier

    def clear(self) -> list[QueuedMessage]:
        """Empty the queue; what it held."""
        taken = list(self.waiting)
        self.waiting.clear()
        return taken
