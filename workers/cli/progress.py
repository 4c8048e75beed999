"""`durable-assistants follow`, and `run --follow` / `send` / `chat` on a terminal: the answer
printed as it is written, tool calls as they start and finish, then the final status."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable

from rich.console import Console
from temporalio.client import Client, WorkflowUpdateFailedError

from workers.cli.errors import EXIT_FAILED, CommandFailed, result_exit_code
from workers.follow import answer_progress, follow, follow_conversation
from workflows.contracts import ApprovalDecision, RunResult
from workflows.run.progress import (
    ApprovalDecided,
    ApprovalRequested,
    CodeInterpreterRan,
    PhaseChanged,
    ProgressEvent,
    RunEnded,
    TextDelta,
    TextDone,
    ToolFinished,
    ToolStarted,
)
from workflows.run.workflow import AssistantRun

SHOWN_CHARS = 200
CONVERSATION_PREFIX = "thread-"


class ProgressPrinter:
    """Prints events as they come: text on stdout, the rest dimmed on the console; or each
    event as one JSON line (`as_json`)."""

    def __init__(self, console: Console, as_json: bool = False) -> None:
        self.console = console
        self.as_json = as_json
        self.written: dict[str, str] = {}  # text printed so far, per message
        self.mid_line = False

    def show(self, event: ProgressEvent) -> None:
        if self.as_json:
            print(event.model_dump_json(), flush=True)
        elif isinstance(event, TextDelta):
            self._write(event.delta)
            self.written[event.message_id] = self.written.get(event.message_id, "") + event.delta
        elif isinstance(event, TextDone):
            if self.written.get(event.message_id, "") != event.text:  # never, but say so
                self._note("(the streamed text differed from the final text, which is:)")
                self._write(event.text)
            self._end_line()
        elif isinstance(event, ToolStarted):
            self._note(f"→ {event.name}({_cut(event.arguments)})")
        elif isinstance(event, ToolFinished):
            failed = f" failed ({event.error})" if event.error else ""
            self._note(f"← {event.name}{failed}: {_cut(event.output)}")
        elif isinstance(event, CodeInterpreterRan):
            self._note(f"ran code:\n{event.code}\nlogs:\n{event.logs}".rstrip())
        elif isinstance(event, ApprovalRequested):
            self._note(
                f"? {event.name}({_cut(event.arguments)}) waits for approval: {event.call_id}"
            )
        elif isinstance(event, ApprovalDecided):
            how = "approved" if event.approved else f"denied ({event.reason or 'no reason'})"
            self._note(f"  {event.call_id} {how}")
        elif isinstance(event, PhaseChanged) and event.phase.value == "cancelling":
            self._note(f"cancelling: {event.details}")
        elif isinstance(event, RunEnded):
            self._ended(event)

    def _ended(self, event: RunEnded) -> None:
        result = event.result
        if result is not None and result.status != "completed":
            error = f": {result.last_error.message}" if result.last_error else ""
            reason = f" ({result.cancel_reason})" if result.cancel_reason else ""
            self._note(f"{result.status}{error}{reason}", style="bold")
        elif event.error is not None:
            self._note(f"error: the run failed: {event.error}", style="bold")

    def _write(self, text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()
        self.mid_line = not text.endswith("\n")

    def _end_line(self) -> None:
        if self.mid_line:
            self._write("\n")

    def _note(self, line: str, style: str = "dim") -> None:
        self._end_line()
        self.console.print(line, style=style, markup=False, highlight=False, soft_wrap=True)


async def follow_command(
    client: Client, workflow_id: str, from_offset: int, printer: ProgressPrinter
) -> int:
    """Print a run's progress until it ends (a conversation's: until it closes)."""
    if workflow_id.startswith(CONVERSATION_PREFIX) and "/" not in workflow_id:
        async for _, event in follow_conversation(client, workflow_id[len(CONVERSATION_PREFIX) :]):
            printer.show(event)
        return 0
    return await print_progress(client, workflow_id, from_offset, printer)


async def print_progress(
    client: Client, workflow_id: str, from_offset: int, printer: ProgressPrinter
) -> int:
    """Print the run's progress; the exit code of how it ended."""
    ended: RunEnded | None = None
    async for event in follow(client, workflow_id, from_offset=from_offset):
        printer.show(event)
        ended = event if isinstance(event, RunEnded) else ended
    if ended is None:
        raise CommandFailed(f"run {workflow_id} was closed without a result (terminated?)")
    return result_exit_code(ended.result) if ended.result else EXIT_FAILED


Approver = Callable[[str, ApprovalRequested], Awaitable[None]]
"""Asked to decide a call that waits for approval in the run (workflow id) it names."""


async def print_answer_progress(
    client: Client,
    key: str,
    from_run: int,
    answer: asyncio.Task[RunResult],
    printer: ProgressPrinter,
    approver: Approver | None = None,
) -> RunResult:
    """Print the conversation's runs from number `from_run` (the current or next one when
    the message was sent) until `answer`, the message's send, has its result and the run
    that answered it has been printed to its end. Calls waiting for approval go to
    `approver`."""
    async for run_id, event in answer_progress(client, key, from_run, answer):
        printer.show(event)
        if isinstance(event, ApprovalRequested) and approver is not None:
            await approver(run_id, event)
    return await answer


async def ask_on_the_terminal(client: Client, run_id: str, call: ApprovalRequested) -> None:
    """Ask whoever chats whether the call may run, and tell the run."""
    question = f"approve {call.name}({_cut(call.arguments)})? [y/N] "
    sys.stderr.write(question)
    sys.stderr.flush()
    answer = (await asyncio.to_thread(sys.stdin.readline)).strip().lower()
    approved = answer in ("y", "yes")
    reason = None if approved else "denied by the person chatting"
    decision = ApprovalDecision(call_id=call.call_id, approved=approved, reason=reason)
    handle = client.get_workflow_handle_for(AssistantRun.run, run_id)
    with contextlib.suppress(WorkflowUpdateFailedError):  # decided meanwhile (by the timeout)
        await handle.execute_update(AssistantRun.decide_approval, decision)


def _cut(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= SHOWN_CHARS else line[: SHOWN_CHARS - 1] + "…"
