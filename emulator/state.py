"""The state every request shares: configuration, the store, and change notifications."""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from emulator.config import EmulatorConfig
from emulator.store import Store

REQUEST_LOG_SIZE = 100_000


class LoggedRequest(NamedTuple):
    """One `/v1` request: when it arrived and when its answer's headers left (epoch
    seconds), so tests can measure rates and prove that nothing arrived in a window."""

    method: str
    path: str
    status: int
    arrived: float
    answered: float


class Emulator:
    """The state shared by every request: configuration, the store, and change notifications
    that let streams wait for the next event instead of polling."""

    def __init__(
        self, config: EmulatorConfig, store: Store | None = None, state_file: Path | None = None
    ) -> None:
        self.config = config
        self.state_file = state_file
        if store is None and state_file is not None and state_file.exists():
            store = Store.load(state_file)
        self.store = store or Store()
        self._requests_in_flight = 0
        self.request_log: collections.deque[LoggedRequest] = collections.deque(
            maxlen=REQUEST_LOG_SIZE
        )
        self._changed_since_save = False
        self._changes: dict[str, asyncio.Event] = {}

    @contextlib.contextmanager
    def handling_request(self) -> Iterator[None]:
        """Around every request: any of them may change the store (even a GET advances runs
        lazily), at any await, so the state counts as changed while one is in flight and
        once more after it ends."""
        self._requests_in_flight += 1
        try:
            yield
        finally:
            self._requests_in_flight -= 1
            self._changed_since_save = True

    def notify(self, key: str) -> None:
        """Wake every stream waiting on `key` (a run or response id)."""
        event = self._changes.pop(key, None)
        if event is not None:
            event.set()

    async def wait_for_change(self, key: str, within_seconds: float) -> None:
        event = self._changes.setdefault(key, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), max(0.0, within_seconds))

    def reset(self) -> None:
        clock = self.store.clock
        self.store = Store(clock=clock)
        self._changed_since_save = True

    def save(self) -> None:
        """Write the state file if the store may have changed since it was last written."""
        if self.state_file is None:
            return
        if self._changed_since_save or self._requests_in_flight:
            self._changed_since_save = False
            self.store.save(self.state_file)
