"""What a run shows of itself as its phase changes: search attributes (upserted only when they
change), the Temporal UI's current details, and a phase event for its followers."""

from __future__ import annotations

from temporalio import workflow

from workflows.common import RunPhase
from workflows.run.progress_log import ProgressLog
from workflows.run.record import RunRecord
from workflows.search_attributes import run_attributes

SEARCH_ATTRIBUTES_ON_CHANGE = "search-attributes-on-change"


class RunVisibility:
    def __init__(self, summary: str, log: ProgressLog) -> None:
        self.summary = summary
        self.log = log
        self.published: dict[str, str] = {}  # search attributes as last upserted
        self.upsert_on_change = False

    def begin(self) -> None:
        """At the start of the run (a deterministic point): histories recorded before
        2026-11 upserted every attribute on every phase."""
        self.upsert_on_change = workflow.patched(SEARCH_ATTRIBUTES_ON_CHANGE)

    def enter(self, phase: RunPhase, record: RunRecord, details: str) -> None:
        self.describe(phase, details)
        attributes = run_attributes(phase, record.thread_id, record.run_id, record.assistant_id)
        if self.upsert_on_change:
            attributes = [a for a in attributes if self.published.get(a.key.name) != a.value]
            self.published.update({a.key.name: str(a.value) for a in attributes})
        if attributes:
            workflow.upsert_search_attributes(attributes)

    def describe(self, phase: RunPhase, details: str) -> None:
        """The UI's current details (the question, the phase and what goes on) and, when they
        change, a phase event."""
        workflow.set_current_details(f"{self.summary}\n\n**{phase.value}**: {details}")
        self.log.phase(phase, details)
