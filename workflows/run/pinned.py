"""`AssistantRun` as a worker with Worker Deployment versioning serves it."""

from __future__ import annotations

from pydantic import ValidationError
from temporalio import workflow
from temporalio.common import VersioningBehavior

with workflow.unsafe.imports_passed_through():
    from workflows.run.contracts import RunRequest
    from workflows.run.outcome import RunResult
    from workflows.run.workflow import AssistantRun


@workflow.defn(
    name="AssistantRun",
    failure_exception_types=[ValidationError],
    versioning_behavior=VersioningBehavior.PINNED,
)
class PinnedAssistantRun(AssistantRun):
    """`AssistantRun` as a worker with Worker Deployment versioning serves it: a run ends on
    the version it started on. (An unversioned worker may not claim a behaviour: the server
    refuses its workflow tasks.)"""

    @workflow.run
    async def run(self, request: RunRequest) -> RunResult:
        return await super().run(request)
