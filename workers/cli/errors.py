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
from temporalio.service import RPCError, RPCStatusCode

from workers.failures import failure_message
from workers.settings import SettingsError

if TYPE_CHECKING:
    from workflows.contracts import RunResult

EXIT_FAILED = 1
"""The run (or another workflow) failed, was cancelled, expired or is incomplete."""
EXIT_USAGE = 2
"""Bad usage or configuration: an option, a setting, an unknown workflow, Temporal unreachable."""
_UNKNOWN_WORKFLOW = re.compile(r"workflow not found for ID: (\S+)")


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


def yaml_problem(path: Path, err: yaml.MarkedYAMLError) -> str:
    """`FILE:LINE:COLUMN: problem`, as compilers say it, so editors can jump there."""
    mark = err.problem_mark
    if mark is None:
        return f"{path}: {err.problem or err}"
    return f"{path}:{mark.line + 1}:{mark.column + 1}: {err.problem}"
