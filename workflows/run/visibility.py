"""What a run shows of itself as its phase changes: search attributes, the Temporal UI's
current details, and a phase event for its followers.

Search attributes cost a history event per upsert, so a run records them where someone looks
for them: when it waits for a person's approval, when that wait ends, and
when it ends, with the ids it has by then. Its live phase is in the UI's current details and
in the `state` query, which cost nothing."""

from __future__ import annotations

from temporalio import workflow

from workflows.common import TERMINAL_PHASES, RunPhase
from workflows.run.progress_log import ProgressLog
from workflows.run.record import RunRecord
from workflows.search_attributes import OPENAI_THREAD_ID, RUN_PHASE, run_attributes

SEARCHED_PHASES = TERMINAL_PHASES | {RunPhase.awaiting_approval}


class RunVisibility:
    def __init__(self, summary: str, log: ProgressLog) -> None:
        self.summary = summary
        self.log = log
        self.published: dict[str, str] = {}  # search attributes as last upserted

    def enter(self, phase: RunPhase, record: RunRecord, details: str) -> None:
        self.describe(phase, details)
        if not self._searched(phase):
            return
        attributes = run_attributes(
            phase, record.searched_thread, record.run_id, record.assistant_id
        )
        attributes = [a for a in attributes if self.published.get(a.key.name) != a.value]
        self.published.update({a.key.name: str(a.value) for a in attributes})
        if attributes:
            workflow.upsert_search_attributes(attributes)

    def hold(self, thread_id: str) -> None:
        """Mark the thread a run continues as held from its start (a conversation's runs
        are held by their conversation), so no cleanup deletes it under the run; at its end
        the run marks what it ended on."""
        workflow.upsert_search_attributes([OPENAI_THREAD_ID.value_set(thread_id)])
        self.published[OPENAI_THREAD_ID.name] = thread_id

    def _searched(self, phase: RunPhase) -> bool:
        """Whether the phase is one people search for, or ends one they searched for."""
        return phase in SEARCHED_PHASES or self.published.get(RUN_PHASE.name) in SEARCHED_PHASES

    def describe(self, phase: RunPhase, details: str) -> None:
        """The UI's current details (the question, the phase and what goes on) and, when they
        change, a phase event."""
        workflow.set_current_details(f"{self.summary}\n\n**{phase.value}**: {details}")
        self.log.phase(phase, details)
