"""A tool for the chaos suite that records each execution's idempotency key, so executions
beyond one per call can be counted."""

from __future__ import annotations

import os
from pathlib import Path

from activities.tools import current_call, tool


@tool
def record_visit(city: str) -> str:
    """Record a visit to a city."""
    with Path(os.environ["CHAOS_VISITS_FILE"]).open("a") as visits:
        visits.write(current_call().idempotency_key + "\n")
    return f"visit to {city} recorded"
