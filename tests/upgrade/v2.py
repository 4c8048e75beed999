"""The "v2" of the upgrade drill: the workflows with a patched branch each, and `run.start`
returning a field v1 does not know. Registered under the same names as the real ones."""

from __future__ import annotations

from pydantic import ValidationError
from temporalio import workflow
from temporalio.common import VersioningBehavior

with workflow.unsafe.imports_passed_through():
    from workflows.contracts import RunRequest, RunResult, ThreadConfig, ThreadState
    from workflows.run.workflow import AssistantRun
    from workflows.thread.workflow import AssistantThread

V2_PATCH = "upgrade-drill-v2"


@workflow.defn(
    name="AssistantRun",
    failure_exception_types=[ValidationError],
    versioning_behavior=VersioningBehavior.PINNED,
)
class AssistantRunV2(AssistantRun):
    @workflow.run
    async def run(self, request: RunRequest) -> RunResult:
        if workflow.patched(V2_PATCH):
            self.shown.summary = f"[v2] {self.shown.summary}"
        return await super().run(request)


@workflow.defn(name="AssistantThread", failure_exception_types=[ValidationError])
class AssistantThreadV2(AssistantThread):
    @workflow.run
    async def run(self, config: ThreadConfig) -> ThreadState:
        if workflow.patched(V2_PATCH):
            workflow.set_current_details("[v2] conversation")
        return await super().run(config)
