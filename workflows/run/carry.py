"""What a run carries into its next execution when it continues as new between two rounds of
tool calls (its history would otherwise grow with every round): the run it waits on, what
it has come to, and where its progress log is. Nothing is in flight at that point.

The nested parts travel as JSON and are read back by the workflow with its own models (in
the replay sandbox those are the sandbox's copies of the classes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from workflows.common import Backend, Record


class RunCarry(Record):
    started_at: datetime = Field(description="when the run's first execution began")
    attempt: int
    waiting: dict[str, Any] = Field(description="the run (RunSnapshot) waiting for outputs")
    record: dict[str, Any] = Field(description="what the run has come to (RunRecord)")
    backend: Backend
    continues_from: str | None
    catalog: dict[str, Any] | None = Field(description="ToolCatalog")
    fallbacks_used: int = 0
    published: dict[str, str] = Field(default_factory=dict)
    progress: dict[str, Any] = Field(description="ProgressCarry")
