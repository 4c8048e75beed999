"""What a run carries into its next execution when it continues as new between two rounds of
tool calls (its history would otherwise grow with every round): the run it waits on, what
it has come to, and where its progress log is. Nothing is in flight at that point."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field, TypeAdapter

from workflows.common import Backend, Record
from workflows.run.progress_log import ProgressCarry
from workflows.run.record import RunRecord
from workflows.run.steps import RunSnapshot, ToolCatalog

RECORD = TypeAdapter(RunRecord)


class RunCarry(Record):
    started_at: datetime = Field(description="when the run's first execution began")
    attempt: int
    waiting: RunSnapshot = Field(description="the run, waiting for its next round's outputs")
    record: dict[str, Any]
    backend: Backend
    continues_from: str | None
    catalog: ToolCatalog | None
    fallbacks_used: int = 0
    published: dict[str, str] = Field(default_factory=dict)
    progress: ProgressCarry

    def run_record(self) -> RunRecord:
        return RECORD.validate_python(self.record)


def carried_record(record: RunRecord) -> dict[str, Any]:
    data: dict[str, Any] = RECORD.dump_python(record, mode="json")
    return data
