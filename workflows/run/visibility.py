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
from workflows.search_attributes import OPENAI_THREAD_ID, RUN_PHASE, run_attributes

SEARCH_ATTRIBUTES_ON_CHANGE = "search-attributes-on-change"
"""`workflow.patched` id of executions begun 2026-11-26 from 09:44 UTC: they upserted every
attribute that changed, on every phase."""
LEAN_HISTORY = "lean-history"
"""`workflow.patched` id of executions begun 2026-11-26: today's search attributes, tool
catalog and expiry timers, the Assistants API thread in an activity of its own."""
THREAD_IN_WORKFLOW_TASK = "thread-in-workflow-task"
"""`workflow.patched` id of executions begun 2026-11-27 (the release before this one): today's
behaviour, marked."""
SEARCHED_PHASES = TERMINAL_PHASES | {RunPhase.awaiting_approval}


class RunVisibility:
    def __init__(self, summary: str, log: ProgressLog) -> None:
        self.summary = summary
        self.log = log
        self.published: dict[str, str] = {}  # search attributes as last upserted
        self.lean = True
        self.thread_in_task = True

    def begin(self) -> None:
        """At the start of the run (a deterministic point), which release's behaviour it
        replays. A new execution records no version marker (each costs it two history
        events: the marker and the `TemporalChangeVersion` upsert the SDK adds): today's
        behaviour is the one without a marker. Replaying, `patched` records nothing and says
        whether an earlier release marked the history; runs begun before 2026-11-26 09:44 UTC,
        which recorded no marker and behaved otherwise, no longer replay (see README,
        "Changing a workflow safely")."""
        if not workflow.unsafe.is_replaying() or workflow.patched(THREAD_IN_WORKFLOW_TASK):
            return
        self.thread_in_task = False
        self.lean = workflow.patched(LEAN_HISTORY)
        if not self.lean and not workflow.patched(SEARCH_ATTRIBUTES_ON_CHANGE):
            self.thread_in_task = self.lean = True  # no marker: begun by today's code

    def enter(self, phase: RunPhase, record: RunRecord, details: str) -> None:
        self.describe(phase, details)
        if self.lean and not self._searched(phase):
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
