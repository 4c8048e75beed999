"""History events and billable actions of one durable run per scenario, for the benchmark's
cost tables.

Each scenario runs once with `"stream": false` (the run's own cost, the same every time: what
the targets and tests/replay/test_history_costs.py pin) and three times as sent by default,
with live text: the activity following the model's stream then signals the first delta at
once and a batch every 200 ms, each signal an event and a workflow task more, as many as the
timing of the text allows.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any

from temporalio.client import Client

from workflows.contracts import RunRequest
from workflows.run.workflow import AssistantRun

ACTION_EVENTS = (
    "workflow_execution_started_event_attributes",
    "activity_task_scheduled_event_attributes",
    "timer_started_event_attributes",
    "upsert_workflow_search_attributes_event_attributes",
    "workflow_execution_update_accepted_event_attributes",
    "workflow_execution_signaled_event_attributes",
    "start_child_workflow_execution_initiated_event_attributes",
)
"""Events Temporal Cloud bills as an action each."""
STREAMED_RUNS = 3


async def history_costs(
    client: Client,
    request_of: Callable[[str], RunRequest],
    scenarios: Iterable[tuple[str, str]],
    task_queue: str,
) -> dict[str, Any]:
    """Per scenario (name, message): events and actions without live text, and their range
    over STREAMED_RUNS runs with it."""
    costs = {}
    for scenario, text in scenarios:
        request = request_of(text)
        quiet = await _cost(client, request.model_copy(update={"stream": False}), task_queue)
        streamed = [await _cost(client, request, task_queue) for _ in range(STREAMED_RUNS)]
        costs[scenario] = {
            **quiet,
            "streamed_events": _range(cost["events"] for cost in streamed),
            "streamed_actions": _range(cost["actions"] for cost in streamed),
        }
    return costs


def cost_table(label: str, costs: dict[str, Any]) -> list[str]:
    lines = [
        f"| {label} per run | history events | billable actions | with live text "
        f"({STREAMED_RUNS} runs): events / actions |",
        "|---|---|---|---|",
    ]
    for scenario, cost in costs.items():
        streamed = "-"
        if "streamed_events" in cost:
            streamed = f"{_shown(cost['streamed_events'])} / {_shown(cost['streamed_actions'])}"
        lines.append(f"| {scenario} | {cost['events']} | {cost['actions']} | {streamed} |")
    return lines


async def _cost(client: Client, request: RunRequest, task_queue: str) -> dict[str, int]:
    handle = await client.start_workflow(
        AssistantRun.run, request, id=f"cost-{uuid.uuid4()}", task_queue=task_queue
    )
    await handle.result()
    kinds = [event.WhichOneof("attributes") for event in (await handle.fetch_history()).events]
    return {"events": len(kinds), "actions": sum(kind in ACTION_EVENTS for kind in kinds)}


def _range(values: Iterable[int]) -> list[int]:
    ordered = sorted(values)
    return [ordered[0], ordered[-1]]


def _shown(bounds: list[int]) -> str:
    low, high = bounds
    return f"{low}" if low == high else f"{low}-{high}"
