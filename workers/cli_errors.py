"""What the CLI says when a command fails as expected: one line and an exit code.

`problem` turns an exception into that line; `None` means the failure was not expected (a bug),
and its traceback is worth printing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ActivityError, ChildWorkflowError, FailureError
from temporalio.service import RPCError, RPCStatusCode

from workers.settings import SettingsError

if TYPE_CHECKING:
    from workflows.contracts import RunResult

EXIT_FAILED = 1
"""The run (or another workflow) failed, was cancelled, expired or is incomplete."""
EXIT_USAGE = 2
"""Bad usage or configuration: an option, a setting, an unknown workflow, Temporal unreachable."""

_WRAPPERS = (ActivityError, ChildWorkflowError)
_UNKNOWN_WORKFLOW = re.compile(r"workflow not found for ID: (\S+)")
_HINTS = (
    ("no registered tool named", "`durable-assistants tools list` shows the registered tools"),
    (
        "No assistant found",
        "check --assistant-id against OPENAI_BASE_URL, or pass --assistant-file to create it",
    ),
)
"""(words of a failure, what to do about it): hints where the next step is obvious."""


@dataclass(frozen=True)
class Problem:
    message: str
    exit_code: int


class CommandFailed(Exception):
    """A command failed in a way it has already put in words (exit code 1)."""


def result_exit_code(result: RunResult) -> int:
    return 0 if result.status == "completed" else EXIT_FAILED


def problem(err: BaseException, namespace: str) -> Problem | None:
    """The line to print and the exit code for an expected failure; None for a bug."""
    if isinstance(err, SettingsError):
        return Problem(str(err), EXIT_USAGE)
    if isinstance(err, CommandFailed):
        return Problem(str(err), EXIT_FAILED)
    if isinstance(err, WorkflowFailureError):
        return Problem(f"workflow failed: {failure_message(err)}", EXIT_FAILED)
    if isinstance(err, WorkflowUpdateFailedError):
        return Problem(failure_message(err), EXIT_FAILED)
    if isinstance(err, RPCError):
        return _rpc_problem(err, namespace)
    return None


def _rpc_problem(err: RPCError, namespace: str) -> Problem:
    unknown = _UNKNOWN_WORKFLOW.search(err.message)
    if err.status == RPCStatusCode.NOT_FOUND and unknown:
        return Problem(f"no workflow {unknown[1]} in namespace {namespace}", EXIT_USAGE)
    return Problem(f"Temporal: {err.status.name}: {err.message}", EXIT_USAGE)


def failure_message(err: WorkflowFailureError | WorkflowUpdateFailedError) -> str:
    """What failed, in the words of whoever raised it (an activity, a child workflow, the
    workflow, an update's validator): not the wrappers around it, nor the library exception
    it was translated from. With a hint where the next step is obvious."""
    chain = _causes(err.cause)
    wrapped = [i for i, cause in enumerate(chain) if isinstance(cause, _WRAPPERS)]
    raised = chain[wrapped[-1] + 1] if wrapped and wrapped[-1] + 1 < len(chain) else chain[0]
    message = (raised.message if isinstance(raised, FailureError) else str(raised)).rstrip(".")
    hint = next((hint for words, hint in _HINTS if words in message), None)
    return f"{message}; {hint}" if hint else message


def _causes(err: BaseException) -> list[BaseException]:
    chain = []
    cause: BaseException | None = err
    while cause is not None:
        chain.append(cause)
        cause = cause.__cause__
    return chain


def yaml_problem(path: Path, err: yaml.MarkedYAMLError) -> str:
    """`FILE:LINE:COLUMN: problem`, as compilers say it, so editors can jump there."""
    mark = err.problem_mark
    if mark is None:
        return f"{path}: {err.problem or err}"
    return f"{path}:{mark.line + 1}:{mark.column + 1}: {err.problem}"
