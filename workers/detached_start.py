"""Workflow executions that let go of their start's activation once they have begun.

The SDK parses each activation into one protobuf arena and hands a workflow a few messages of
its start's: the headers and memo in its `Info`, its last completion result and failure, and
the headers of its `ExecuteWorkflowInput`. Each of them, even empty, keeps the whole arena
alive, so an execution holds the raw bytes of its input (besides the objects it decoded) for
as long as it runs: 2.6 MiB for the parent of an ingest of 10,000 files, whose input is 1 MB
of JSON. Copies of those small messages, made before the workflow sees them, let it go.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from google.protobuf.message import Message
from temporalio.worker import (
    ExecuteWorkflowInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInstance,
    WorkflowInstanceDetails,
    WorkflowInterceptorClassInput,
    WorkflowRunner,
)
from temporalio.workflow import _Definition

M = TypeVar("M", bound=Message)


class DetachedStartRunner(WorkflowRunner):
    """`runner`, given the details of each new execution with the start's messages copied."""

    def __init__(self, runner: WorkflowRunner) -> None:
        self.runner = runner

    def prepare_workflow(self, defn: _Definition) -> None:
        self.runner.prepare_workflow(defn)

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        info = dataclasses.replace(
            det.info, headers=_copies(det.info.headers), raw_memo=_copies(det.info.raw_memo)
        )
        failure = det.last_failure
        return self.runner.create_instance(
            dataclasses.replace(
                det,
                info=info,
                last_completion_result=_copy(det.last_completion_result),
                last_failure=None if failure is None else _copy(failure),
            )
        )

    def set_worker_level_failure_exception_types(
        self, types: Sequence[type[BaseException]]
    ) -> None:
        self.runner.set_worker_level_failure_exception_types(types)


class DetachedInputHeaders(Interceptor):
    """Copies the headers of each execution's input before the workflow runs; the SDK keeps
    that input (the same object) for the execution's life."""

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor]:
        return _DetachedInputHeaders


class _DetachedInputHeaders(WorkflowInboundInterceptor):
    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        input.headers = _copies(input.headers)
        return await self.next.execute_workflow(input)


def _copies(messages: Mapping[str, M]) -> dict[str, M]:
    return {key: _copy(message) for key, message in messages.items()}


def _copy(message: M) -> M:
    copy = type(message)()
    copy.CopyFrom(message)
    return copy
