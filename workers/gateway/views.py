"""A run as the API shows it (`RunView`): its state while it runs, its result once ended."""

from __future__ import annotations

from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowFailureError,
)

from workers.failures import failure_message
from workers.gateway.models import RunView
from workers.settings import Settings
from workflows.common import RunPhase
from workflows.contracts import RunResult, RunState
from workflows.run.workflow import AssistantRun

FIRST_TASK_EVENTS = 3
"""Started, then the first workflow task scheduled and started: a query before it completes
ends that task early and costs the run 3 history events (see `workers.follow`)."""


async def run_view(
    client: Client, settings: Settings, described: WorkflowExecutionDescription
) -> RunView:
    link = settings.workflow_ui_url(described.id)
    handle = client.get_workflow_handle_for(AssistantRun.run, described.id, run_id=described.run_id)
    if described.status == WorkflowExecutionStatus.RUNNING:
        state = RunState(phase=RunPhase.creating)
        if described.history_length > FIRST_TASK_EVENTS:  # a query before costs the run
            state = await handle.query(AssistantRun.state)
        return RunView(
            id=described.id,
            status="running",
            phase=state.phase,
            closed=False,
            state=state,
            ui_url=link,
        )
    status = (described.status.name if described.status else "unknown").lower()
    try:
        result: RunResult = await handle.result(follow_runs=False)
    except WorkflowFailureError as err:
        return RunView(
            id=described.id, status=status, closed=True, error=failure_message(err), ui_url=link
        )
    return RunView(
        id=described.id,
        status=result.status,
        phase=RunPhase(result.status),
        closed=True,
        result=result,
        ui_url=link,
    )
