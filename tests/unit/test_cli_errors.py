"""The one line and the exit code the CLI gives for each expected failure."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from workers.cli.errors import CommandFailed, Problem, problem, result_exit_code, yaml_problem
from workers.failures import failure_message
from workers.settings import SettingsError
from workflows.contracts import RunResult


def _caused(err: BaseException, cause: BaseException) -> BaseException:
    err.__cause__ = cause
    return err


def _activity_failure(activity_said: str, library_said: str) -> WorkflowFailureError:
    """A workflow failing with its activity's error, as the client receives it."""
    translated = _caused(ApplicationError(activity_said), ApplicationError(library_said))
    activity = ActivityError(
        "Activity task failed",
        scheduled_event_id=5,
        started_event_id=6,
        identity="worker",
        activity_type="start_run",
        activity_id="1",
        retry_state=None,
    )
    rethrown = _caused(ApplicationError(activity_said), _caused(activity, translated))
    return WorkflowFailureError(cause=rethrown)


def test_a_failed_activity_is_told_in_the_activitys_words_with_a_hint() -> None:
    failure = _activity_failure(
        "starting a run on thread_1: 404 No assistant found with id 'asst_123'.",
        "Error code: 404 - No assistant found with id 'asst_123'.",
    )
    assert failure_message(failure) == (
        "starting a run on thread_1: 404 No assistant found with id 'asst_123'; check"
        " --assistant-id against OPENAI_BASE_URL, or pass --assistant-file to create it"
    )


def test_an_unknown_tool_points_at_the_tools_list() -> None:
    said = "assistant.tools: no registered tool named 'no_such_tool' (registered: calculate)"
    failure = WorkflowFailureError(cause=ApplicationError(said, type="InvalidRunRequest"))
    assert failure_message(failure) == (
        f"{said}; `durable-assistants tools list` shows the registered tools"
    )


def test_a_workflow_failure_is_exit_code_1() -> None:
    failure = WorkflowFailureError(cause=ApplicationError("the thread is gone"))
    assert problem(failure, "default") == Problem("workflow failed: the thread is gone", 1)


def test_a_refused_update_is_its_cause() -> None:
    refused = WorkflowUpdateFailedError(ApplicationError("conversation k: queue full"))
    assert problem(refused, "default") == Problem("conversation k: queue full", 1)


def test_an_unknown_workflow_names_it_and_the_namespace_exit_code_2() -> None:
    missing = RPCError("workflow not found for ID: run-1", RPCStatusCode.NOT_FOUND, b"")
    assert problem(missing, "prod") == Problem("no workflow run-1 in namespace prod", 2)


def test_other_temporal_errors_say_their_status() -> None:
    denied = RPCError("no access", RPCStatusCode.PERMISSION_DENIED, b"")
    assert problem(denied, "default") == Problem("Temporal: PERMISSION_DENIED: no access", 2)


@pytest.mark.parametrize(
    ("err", "expected"),
    [
        (
            SettingsError("TEMPORAL_ADDRESS: expected host:port"),
            Problem("TEMPORAL_ADDRESS: expected host:port", 2),
        ),
        (CommandFailed("run r has already ended"), Problem("run r has already ended", 1)),
    ],
    ids=["settings", "command"],
)
def test_our_own_errors_keep_their_words(err: Exception, expected: Problem) -> None:
    assert problem(err, "default") == expected


def test_a_bug_is_no_expected_problem() -> None:
    assert problem(KeyError("oops"), "default") is None


@pytest.mark.parametrize(
    ("status", "code"), [("completed", 0), ("failed", 1), ("cancelled", 1), ("expired", 1)]
)
def test_only_a_completed_run_exits_0(status: str, code: int) -> None:
    result = RunResult(status=status, thread_id="t", run_id="r", assistant_id="a")
    assert result_exit_code(result) == code


def test_a_yaml_syntax_error_says_file_line_and_column() -> None:
    path = Path("assistant.yaml")
    with pytest.raises(yaml.MarkedYAMLError) as err:
        yaml.safe_load("name: x\n  model: gpt-4o\n")
    assert (
        yaml_problem(path, err.value) == "assistant.yaml:2:8: mapping values are not allowed here"
    )
