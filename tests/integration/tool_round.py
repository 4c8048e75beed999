"""A workflow that runs one round of tool calls, to test tools apart from any model."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.contracts import SubmitToolOutputsRequest, ToolCall, ToolCallResult
    from workflows.run.tool_calls import ExternalToolOutputs, describe_tools, run_tool_calls


@workflow.defn(name="ToolRoundForTests")
class ToolRound:
    def __init__(self) -> None:
        self.external = ExternalToolOutputs()

    @workflow.run
    async def run(self, calls: list[ToolCall]) -> list[ToolCallResult]:
        return await run_tool_calls(calls, await describe_tools(), self.external, lambda _: None)

    @workflow.query
    def pending(self) -> list[str]:
        return list(self.external.pending)

    @workflow.update
    def submit_tool_outputs(self, request: SubmitToolOutputsRequest) -> None:
        self.external.submit(request)

    @submit_tool_outputs.validator
    def _check_tool_outputs(self, request: SubmitToolOutputsRequest) -> None:
        self.external.validate(request)
