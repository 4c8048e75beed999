"""A history as the sequence of what happened in it: event types, with the activity type of
each scheduled activity (so a test sees which steps a run took, not only how many)."""

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory

from tests.replay.record import HISTORIES

PREFIX = "EVENT_TYPE_"


def event_kinds(history: WorkflowHistory) -> list[str]:
    kinds = []
    for event in history.events:
        kind = EventType.Name(event.event_type).removeprefix(PREFIX).lower()
        if event.HasField("activity_task_scheduled_event_attributes"):
            kind += ":" + event.activity_task_scheduled_event_attributes.activity_type.name
        kinds.append(kind)
    return kinds


def recorded(name: str) -> WorkflowHistory:
    return WorkflowHistory.from_json(name, (HISTORIES / f"{name}.json").read_text())
