"""In-memory state of the emulator: collections of API objects, pagination, counters.

Every handler runs on one event loop and never awaits in the middle of a mutation, so the
store needs no locks. Each entry holds the object's public JSON body (exactly what the API
returns) and the private state its module needs; the whole store pickles to a state file.
"""

from __future__ import annotations

import pickle
import secrets
import string
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulator.errors import invalid, not_found

JSON = dict[str, Any]
_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str) -> str:
    """An id in OpenAI's style: a type prefix and 24 random alphanumerics."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(24))


@dataclass
class Entry:
    public: JSON
    private: Any = None


@dataclass
class Collection:
    """Objects of one kind in creation order, optionally grouped by a parent id."""

    kind: str
    entries: dict[str, Entry] = field(default_factory=dict)
    children: dict[str, dict[str, None]] = field(default_factory=dict)

    def add(self, key: str, public: JSON, private: Any = None, parent: str | None = None) -> Entry:
        entry = Entry(public, private)
        self.entries[key] = entry
        if parent is not None:
            self.children.setdefault(parent, {})[key] = None
        return entry

    def get(self, key: str, shown_id: str | None = None) -> Entry:
        entry = self.entries.get(key)
        if entry is None:
            raise not_found(self.kind, shown_id or key)
        return entry

    def find(self, key: str) -> Entry | None:
        return self.entries.get(key)

    def remove(self, key: str, parent: str | None = None) -> Entry | None:
        if parent is not None:
            self.children.get(parent, {}).pop(key, None)
        return self.entries.pop(key, None)

    def of(self, parent: str) -> list[Entry]:
        return [self.entries[key] for key in self.children.get(parent, {})]

    def __len__(self) -> int:
        return len(self.entries)


@dataclass
class Counters:
    """What the emulator was asked to do, so tests can prove nothing was duplicated."""

    events: dict[str, Counter[str]] = field(default_factory=dict)

    def count(self, name: str, key: str = "total", amount: int = 1) -> None:
        self.events.setdefault(name, Counter())[key] += amount

    def snapshot(self) -> dict[str, dict[str, int]]:
        return {name: dict(counter) for name, counter in sorted(self.events.items())}


@dataclass
class Store:
    """Everything the emulator knows. Modules keep their objects in named collections."""

    collections: dict[str, Collection] = field(default_factory=dict)
    counters: Counters = field(default_factory=Counters)
    clock: Callable[[], float] = time.time

    def collection(self, name: str, kind: str) -> Collection:
        found = self.collections.get(name)
        if found is None:
            found = self.collections[name] = Collection(kind)
        return found

    def now(self) -> int:
        return int(self.clock())

    def save(self, path: Path) -> None:
        temporary = path.with_suffix(".tmp")
        clock, self.clock = self.clock, time.time
        try:
            temporary.write_bytes(pickle.dumps(self))
        finally:
            self.clock = clock
        temporary.replace(path)

    @staticmethod
    def load(path: Path) -> Store:
        """The store saved in `path`; a `ValueError` if it holds none this version can read."""
        try:
            store = pickle.loads(path.read_bytes())
        except Exception as err:  # unpickling raises whatever the data provokes
            raise ValueError(f"{path} does not hold emulator state ({err!r})") from err
        if not isinstance(store, Store):
            raise ValueError(f"{path} does not hold emulator state")
        return store


def paginate(
    items: Iterable[JSON],
    *,
    limit: int = 20,
    order: str = "desc",
    after: str | None = None,
    before: str | None = None,
    max_limit: int = 100,
) -> JSON:
    """A list page as every Assistants-era list endpoint returns it."""
    if not 1 <= limit <= max_limit:
        raise invalid(
            f"Invalid 'limit': integer out of range. Expected a value between 1 and "
            f"{max_limit}, but got {limit} instead.",
            param="limit",
            code="integer_out_of_range",
        )
    if order not in ("asc", "desc"):
        raise invalid(
            f"Invalid value: '{order}'. Supported values are: 'asc' and 'desc'.",
            param="order",
            code="invalid_value",
        )
    ordered = list(items) if order == "asc" else list(items)[::-1]
    ids = [item["id"] for item in ordered]
    start = ids.index(after) + 1 if after in ids else 0
    end = ids.index(before) if before in ids else len(ordered)
    if before in ids and after is None:
        start = max(0, end - limit)
    page = ordered[start:end][:limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": start + len(page) < end or (before in ids and start > 0 and after is None),
    }
