"""Reading raw server-sent events, to validate them against the spec as sent."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any


def parse_events(lines: Iterable[str]) -> list[dict[str, Any]]:
    """`{"event": name, "data": payload}` per event; `[DONE]` stays a string."""
    events: list[dict[str, Any]] = []
    name: str | None = None
    for line in lines:
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            raw = line.removeprefix("data: ")
            events.append({"event": name, "data": raw if raw == "[DONE]" else json.loads(raw)})
            name = None
    return events
