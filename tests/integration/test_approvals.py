"""Tool approvals: a call of a tool that requires approval waits in phase `awaiting_approval`;
approved it runs once, denied or undecided in time it never runs and the model reads why;
decisions on calls that do not wait are refused, naming why."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.service import RPCError

from tests.integration.conftest import (
    Assistant,
    ask,
    both_backends,
    run_cli,
    start,
    until,
)
from tests.integration.run_tools import REFUNDED
from workers.client import follow
from workers.settings import Settings
from workflows.contracts import ApprovalDecision, RunPhase, RunResult, RunState
from workflows.run.progress import ApprovalDecided, ApprovalRequested, PhaseChanged, ToolFinished
from workflows.run.workflow import AssistantRun

Run = WorkflowHandle[AssistantRun, RunResult]


def refund(order: str) -> str:
    return f'call issue_refund with {{"order_id": "{order}"}}'


async def waiting(handle: Run) -> RunState:
    return await until(handle, lambda s: s.phase == RunPhase.awaiting_approval)


async def decide(handle: Run, call_id: str, approved: bool, reason: str | None = None) -> RunState:
    decision = ApprovalDecision(call_id=call_id, approved=approved, reason=reason)
    return await handle.execute_update(AssistantRun.decide_approval, decision)


@both_backends
async def test_an_approved_call_runs_once_and_the_wait_shows_everywhere(
    client: Client, task_queue: str, worker: None, assistant: Assistant
) -> None:
    order = f"R-{uuid.uuid4().hex[:8]}"
    handle = await start(client, task_queue, ask(assistant, refund(order)))
    state = await waiting(handle)
    [call] = state.pending_approvals
    assert (call.name, call.arguments) == ("issue_refund", f'{{"order_id": "{order}"}}')
    assert REFUNDED.count(order) == 0, "nothing runs before the decision"
    after = await decide(handle, call.id, True)
    assert after.pending_approvals == []
    result = await handle.result()
    assert result.status == "completed"
    assert [(c.name, c.output, c.error) for c in result.tool_calls] == [
        ("issue_refund", f"refunded {order}", None)
    ]
    assert REFUNDED.count(order) == 1
    events = [e async for e in follow(client, handle.id)]
    requested = [e for e in events if isinstance(e, ApprovalRequested)]
    decided = [e for e in events if isinstance(e, ApprovalDecided)]
    assert [(e.call_id, e.name) for e in requested] == [(call.id, "issue_refund")]
    assert [(e.approved, e.timed_out) for e in decided] == [(True, False)]
    phases = [e.phase.value for e in events if isinstance(e, PhaseChanged)]
    waited = phases.index("awaiting_approval")
    assert phases[waited - 1 : waited + 2] == [
        "running_tools",
        "awaiting_approval",
        "running_tools",
    ]


@both_backends
async def test_a_denied_call_never_runs_and_the_model_reads_the_reason(
    client: Client, task_queue: str, worker: None, assistant: Assistant
) -> None:
    order = f"R-{uuid.uuid4().hex[:8]}"
    handle = await start(client, task_queue, ask(assistant, refund(order)))
    [call] = (await waiting(handle)).pending_approvals
    await decide(handle, call.id, False, "refunds over 100 EUR need a manager")
    result = await handle.result()
    assert result.status == "completed"
    [made] = result.tool_calls
    assert made.error == "approval_denied"
    assert "not run: approval denied: refunds over 100 EUR need a manager" in made.output
    assert "refunds over 100 EUR need a manager" in result.output_text  # the model read it
    assert order not in REFUNDED


async def test_a_call_nobody_decides_in_time_is_denied(
    client: Client, task_queue: str, worker: None, assistant_id: str
) -> None:
    order = f"R-{uuid.uuid4().hex[:8]}"
    request = ask(assistant_id, refund(order), approval_timeout_seconds=0.5)
    handle = await start(client, task_queue, request)
    result = await handle.result()
    [made] = result.tool_calls
    assert made.error == "approval_denied"
    assert "no decision within 0.5s" in made.output
    assert order not in REFUNDED
    events = [e async for e in follow(client, handle.id)]
    assert [e.timed_out for e in events if isinstance(e, ApprovalDecided)] == [True]


async def test_decisions_on_calls_that_do_not_wait_are_refused_naming_why(
    client: Client, task_queue: str, worker: None, assistant_id: str
) -> None:
    handle = await start(client, task_queue, ask(assistant_id, refund("R-twice")))
    [call] = (await waiting(handle)).pending_approvals
    with pytest.raises(WorkflowUpdateFailedError) as unknown:
        await decide(handle, "call_from_another_run", True)
    assert (
        f"no tool call call_from_another_run waits for approval in this run (waiting: {call.id})"
        in str(unknown.value.cause)
    )
    await decide(handle, call.id, False)
    with pytest.raises(WorkflowUpdateFailedError) as twice:
        await decide(handle, call.id, True)
    assert f"tool call {call.id} was already denied" in str(twice.value.cause)
    await handle.result()
    with pytest.raises(RPCError, match="workflow execution already completed"):
        await decide(handle, call.id, True)


async def test_a_run_may_require_approval_for_any_registered_tool_and_names_unknown_ones(
    client: Client, task_queue: str, worker: None, assistant_id: str
) -> None:
    request = ask(assistant_id, "weather in Paris", approval_required_for=["get_weather"])
    handle = await start(client, task_queue, request)
    [call] = (await waiting(handle)).pending_approvals
    assert call.name == "get_weather"
    await decide(handle, call.id, True)
    assert (await handle.result()).tool_calls[0].error is None
    bad = ask(assistant_id, "hi", approval_required_for=["wire_money"])
    with pytest.raises(WorkflowFailureError) as failed:
        await (await start(client, task_queue, bad)).result()
    assert "approval_required_for: no registered tool named 'wire_money'" in str(failed.value.cause)


@both_backends
async def test_a_run_cancelled_while_awaiting_approval_never_runs_the_tool(
    client: Client, task_queue: str, worker: None, assistant: Assistant
) -> None:
    order = f"R-{uuid.uuid4().hex[:8]}"
    handle = await start(client, task_queue, ask(assistant, refund(order)))
    await waiting(handle)
    state = await handle.execute_update(AssistantRun.cancel)
    assert state.phase == RunPhase.cancelled
    assert state.pending_approvals == []
    assert (await handle.result()).status == "cancelled"
    assert order not in REFUNDED


async def test_approve_and_deny_from_the_command_line(
    client: Client, settings: Settings, worker: None, assistant_id: str
) -> None:
    # a second approval after the first keeps the run open for as long as the test needs
    two_rounds = f"{refund('R-cli')} then {refund('R-cli-2')}"
    handle = await start(client, settings.temporal_task_queue, ask(assistant_id, two_rounds))
    [call] = (await waiting(handle)).pending_approvals
    approved = await run_cli(settings, "approve", handle.id, call.id)
    assert approved.returncode == 0, approved.stderr
    assert (
        approved.stdout == f"approved {call.id} of {handle.id}; still waiting for approval: none\n"
    )
    again = await run_cli(settings, "deny", handle.id, call.id, "--reason", "too late")
    assert again.returncode == 1
    assert again.stderr == f"error: call_id: tool call {call.id} was already approved\n"
    second = await until(handle, lambda s: any(c.id != call.id for c in s.pending_approvals))
    denied = await run_cli(settings, "deny", handle.id, second.pending_approvals[0].id)
    assert denied.returncode == 0, denied.stderr
    result = await handle.result()
    events = [e async for e in follow(client, handle.id)]
    finished = [(e.name, e.error) for e in events if isinstance(e, ToolFinished)]
    assert finished == [("issue_refund", None), ("issue_refund", "approval_denied")]
    assert result.status == "completed"
    ended = await run_cli(settings, "approve", handle.id, call.id)
    assert ended.returncode == 1
    assert ended.stderr == f"error: run {handle.id} has already ended (completed): nothing waits\n"


async def test_chat_asks_on_the_terminal_whether_a_call_may_run(
    settings: Settings, worker: None, assistant_id: str, tmp_path: Path
) -> None:
    key = f"approve-{uuid.uuid4().hex[:8]}"
    approved, denied = f"R-{uuid.uuid4().hex[:6]}", f"R-{uuid.uuid4().hex[:6]}"
    typed = f"{refund(approved)}\ny\n{refund(denied)}\nn\n"
    chat = await run_cli(
        settings, "chat", key, "--assistant-id", assistant_id, "--follow", stdin=typed, cwd=tmp_path
    )
    assert chat.returncode == 0, chat.stderr
    assert chat.stderr.count("approve issue_refund(") == 2
    assert REFUNDED.count(approved) == 1
    assert denied not in REFUNDED
    assert f"issue_refund returned refunded {approved}" in chat.stdout
    assert "approval denied: denied by the person chatting" in chat.stdout
