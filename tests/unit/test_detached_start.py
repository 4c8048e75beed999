"""An execution lets go of its start's activation: what the worker hands the workflow of it
are copies, so the activation's memory (its input's raw bytes among it) is freed once the
SDK drops the activation."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
from typing import Any

from temporalio.api.common.v1 import Payload
from temporalio.bridge.proto.workflow_activation import InitializeWorkflow, WorkflowActivation
from temporalio.worker import ExecuteWorkflowInput, WorkflowInstanceDetails, WorkflowRunner
from temporalio.workflow import Info

from tests.unit.mallinfo import mallinfo
from workers.detached_start import DetachedStartRunner, _DetachedInputHeaders

INPUT = 32 << 20
"""Large enough that what other threads of the test process allocate meanwhile is noise."""
HEADER = Payload(metadata={"encoding": b"json/plain"}, data=b'"trace-1"')


def allocated() -> int:
    gc.collect()
    info = mallinfo()
    return int(info.uordblks + info.hblkhd)


def start() -> InitializeWorkflow:
    """The start job of an activation parsed from the wire, as the worker gets it."""
    init = InitializeWorkflow(workflow_type="VectorStoreIngest", workflow_id="w")
    init.arguments.add(data=b"x" * INPUT)
    init.headers["trace"].CopyFrom(HEADER)
    wire = WorkflowActivation(run_id="r")
    wire.jobs.add().initialize_workflow.CopyFrom(init)
    return WorkflowActivation.FromString(wire.SerializeToString()).jobs[0].initialize_workflow


class Captured(WorkflowRunner):
    def __init__(self) -> None:
        self.details: WorkflowInstanceDetails | None = None

    def prepare_workflow(self, defn: Any) -> None:
        pass

    def create_instance(self, det: WorkflowInstanceDetails) -> Any:
        self.details = det
        return None


def details(init: InitializeWorkflow) -> WorkflowInstanceDetails:
    """What the SDK's worker builds from the start job, with the parts that refer to it."""
    info = Info(**dict.fromkeys((f.name for f in dataclasses.fields(Info)), None))  # type: ignore[arg-type]
    info = dataclasses.replace(info, headers=dict(init.headers), raw_memo=dict(init.memo.fields))
    fields = dict.fromkeys((f.name for f in dataclasses.fields(WorkflowInstanceDetails)), None)
    fields.update(info=info, last_completion_result=init.last_completion_result)
    return WorkflowInstanceDetails(**fields)  # type: ignore[arg-type]


def test_the_sdks_details_alone_keep_the_whole_start_activation() -> None:
    before = allocated()
    kept = details(start())
    assert allocated() - before >= INPUT // 2
    del kept


def test_the_runner_hands_the_workflow_copies_and_the_start_activation_is_freed() -> None:
    inner = Captured()
    before = allocated()
    DetachedStartRunner(inner).create_instance(details(start()))
    assert allocated() - before < INPUT // 4
    assert inner.details is not None
    assert inner.details.info.headers == {"trace": HEADER}
    assert inner.details.last_completion_result.payloads == []


class Next:
    input: ExecuteWorkflowInput | None = None

    async def execute_workflow(self, input: ExecuteWorkflowInput) -> None:
        self.input = input


def test_the_workflow_input_keeps_copies_of_its_headers_and_not_the_activation() -> None:
    before = allocated()
    input = ExecuteWorkflowInput(type=object, run_fn=Next.execute_workflow, args=[], headers={})
    input.headers = start().headers
    inner = Next()
    asyncio.run(_DetachedInputHeaders(inner).execute_workflow(input))  # type: ignore[arg-type]
    assert allocated() - before < INPUT // 4
    assert inner.input is input
    assert dict(input.headers) == {"trace": HEADER}
