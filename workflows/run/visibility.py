"""What a run shows of itself as its phase changes: search attributes, the Temporal UI's
current details, and a phase event for its followers.

Search attributes cost a history event per upsert, so a run records them where someone looks
for them (`LEAN_HISTORY`): when it waits for a person's approval, when that wait ends, and
when it ends, with the ids it has by then. Its live phase is in the UI's current details and
in the `state` query, which cost nothing."""

from __future__ import annotations

from temporalio import workflow

from workflows.common import TERMINAL_PHASES, RunPhase
from workflows.run.progress_log import ProgressLog
from workflows.run.record import RunRecord
from workflows.search_attributes import RUN_PHASE, run_attributes

SEARCH_ATTRIBUTES_ON_CHANGE = "search-attributes-on-change"
LEAN_HISTORY = "lean-history"
"""`workflow.patched` id: executions begun since 2026-11-26 write the fewest history events
(search attributes where they are looked for, the tool catalog with the first tool calls, no
expiry timer a round cannot reach); it stands for every earlier patch of the run."""
THREAD_IN_WORKFLOW_TASK = "thread-in-workflow-task"
"""`workflow.patched` id: executions begun since 2026-11-27 create their Assistants API thread
in a local activity (one marker instead of an activity's three events and a workflow task);
it stands for `LEAN_HISTORY` and every earlier patch, so a new execution records one patch."""
SEARCHED_PHASES = TERMINAL_PHASES | {RunPhase.awaiting_approval}


class RunVisibility:
    def __init__(self, summary: str, log: ProgressLog) -> None:
        self.summary = summary
        self.log = log
        self.published: dict[str, str] = {}  # search attributes as last upserted
        self.upsert_on_change = False
        self.lean = False
        self.thread_in_task = False

    def begin(self) -> None:
        """At the start of the run (a deterministic point): histories recorded before
        2026-11 upserted every attribute on every phase, those before 2026-11-26 every
        attribute that changed."""
        self.thread_in_task = workflow.patched(THREAD_IN_WORKFLOW_TASK)
        self.lean = self.thread_in_task or workflow.patched(LEAN_HISTORY)
        self.upsert_on_change = self.lean or workflow.patched(SEARCH_ATTRIBUTES_ON_CHANGE)

    def enter(self, phase: RunPhase, record: RunRecord, details: str) -> None:
        self.describe(phase, details)
        if self.lean and not self._searched(phase):
            return
        attributes = run_attributes(phase, record.thread_id, record.run_id, record.assistant_id)
        if self.upsert_on_change:
            attributes = [a for a in attributes if self.published.get(a.key.name) != a.value]
            self.published.update({a.key.name: str(a.value) for a in attributes})
        if attributes:
            workflow.upsert_search_attributes(attributes)

    def _searched(self, phase: RunPhase) -> bool:
        """Whether the phase is one people search for, or ends one they searched for."""
        return phase in SEARCHED_PHASES or self.published.get(RUN_PHASE.name) in SEARCHED_PHASES

    def describe(self, phase: RunPhase, details: str) -> None:
        """The UI's current details (the question, the phase and what goes on) and, when they
        change, a phase event."""
        workflow.set_current_details(f"{self.summary}\n\n**{phase.value}**: {details}")
        self.log.phase(phase, details)
