"""What the CLI says when something is wrong, as a user sees it: one line naming the problem
and what to do, and an exit code a script can trust (1: the run failed; 2: bad usage or
configuration)."""

from __future__ import annotations

import json
import socket
import subprocess
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client

from tests.integration.conftest import WORKER_CLI, ask, cli_env, ran
from tests.integration.conftest import run_cli as cli
from tests.integration.test_processes import read_until
from workers.client import post_message
from workers.settings import Settings
from workflows.contracts import ThreadConfig
from workflows.thread.contracts import MAX_QUEUED_MESSAGES


async def test_a_run_of_an_unknown_assistant_fails_in_one_line_and_exit_1(
    settings: Settings, worker: None, tmp_path: Path
) -> None:
    args = ("run", "--assistant-id", "asst_123", "-m", "Hi", "--backend", "assistants")
    result = await cli(settings, *args, cwd=tmp_path)
    assert result.returncode == 1
    started, error = result.stderr.splitlines()
    workflow_id = started.split()[0]
    assert error.startswith(f"error: run {workflow_id}: failed: starting a run on thread_")
    assert error.endswith(
        ": 404 No assistant found with id 'asst_123'; check --assistant-id against"
        " OPENAI_BASE_URL, or pass --assistant-file to create it"
    )


async def test_an_unknown_tool_in_the_spec_is_one_line_naming_it_and_the_tools_list(
    settings: Settings, worker: None, tmp_path: Path
) -> None:
    spec = tmp_path / "assistant.yaml"
    spec.write_text("name: cli-unknown-tool\nmodel: gpt-4o\ntools: [no_such_tool]\n")
    result = await cli(settings, "run", "--assistant-file", str(spec), "-m", "Hi", cwd=tmp_path)
    assert result.returncode == 1
    _, error = result.stderr.splitlines()
    assert "failed: assistant.tools: no registered tool named 'no_such_tool'" in error
    assert error.endswith("; `durable-assistants tools list` shows the registered tools")


async def test_status_of_an_unknown_workflow_names_it_and_exits_2(
    settings: Settings, tmp_path: Path
) -> None:
    result = await cli(settings, "status", "no-such-workflow", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == "error: no workflow no-such-workflow in namespace default\n"


async def test_debug_prints_the_traceback_before_the_line(
    settings: Settings, tmp_path: Path
) -> None:
    result = await cli(settings, "--debug", "status", "no-such-workflow", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback (most recent call last)" in result.stderr
    last = result.stderr.splitlines()[-1]
    assert last == "error: no workflow no-such-workflow in namespace default"


async def test_cancelling_a_run_that_has_ended_says_so_and_exits_1(
    client: Client, task_queue: str, settings: Settings, worker: None, assistant_id: str
) -> None:
    workflow_id, result = await ran(client, task_queue, ask(assistant_id, "Hi"))
    assert result.status == "completed"
    cancel = await cli(settings, "cancel", workflow_id)
    assert cancel.returncode == 1
    assert cancel.stderr == (
        f"error: run {workflow_id} has already ended (completed): nothing to cancel\n"
    )


async def test_send_exits_1_when_the_answer_failed(
    settings: Settings, worker: None, tmp_path: Path
) -> None:
    key = uuid.uuid4().hex[:10]
    args = ("send", key, "Hi", "--assistant-id", "asst_123", "--backend", "assistants")
    result = await cli(settings, *args, cwd=tmp_path)
    assert result.returncode == 1
    assert "failed: starting a run on thread_" in result.stderr


async def test_a_message_the_conversation_refuses_is_the_refusal_in_one_line(
    client: Client,
    task_queue: str,
    settings: Settings,
    worker: None,
    assistant_id: str,
    tmp_path: Path,
) -> None:
    key = uuid.uuid4().hex[:10]
    config = ThreadConfig(key=key, assistant_id=assistant_id)
    thread = await post_message(client, task_queue, config, "Hold on [[emulator queued=30]]")
    for n in range(MAX_QUEUED_MESSAGES):  # full, whether the first has left the queue or not
        await post_message(client, task_queue, config, f"Message {n}")
    try:
        args = ("send", key, "Hi", "--assistant-id", assistant_id)
        result = await cli(settings, *args, cwd=tmp_path)
    finally:
        await thread.terminate()
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: conversation {key}: queue full (")


async def test_an_unreachable_temporal_says_how_to_start_one_and_exits_2(
    settings: Settings, tmp_path: Path
) -> None:
    unreachable = {"TEMPORAL_ADDRESS": "127.0.0.1:1"}
    result = await cli(settings, "status", "run-1", cwd=tmp_path, env=unreachable)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("error: cannot reach Temporal at 127.0.0.1:1 (namespace default): ")
    assert line.endswith(
        "check TEMPORAL_ADDRESS, or start a local Temporal with `durable-assistants dev`"
        " (or `make demo`)"
    )


@pytest.mark.parametrize(
    "command",
    [["run", "--assistant-id", "asst_1", "-m", "Hi"], ["send", "k", "Hi", "--assistant-id", "a"]],
    ids=["run", "send"],
)
def test_waiting_on_a_task_queue_no_worker_polls_warns_and_keeps_waiting(
    settings: Settings, command: list[str], tmp_path: Path
) -> None:
    queue = f"unserved-{uuid.uuid4().hex[:8]}"
    process = subprocess.Popen(
        [WORKER_CLI, *command],
        env={**cli_env(settings), "TEMPORAL_TASK_QUEUE": queue},
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        said = read_until(process, process.stderr, "warning: no worker polls", timeout=20)
        assert process.poll() is None
    finally:
        process.kill()
        process.wait()
    assert (
        f"warning: no worker polls the task queue {queue!r}; start one with"
        f" `TEMPORAL_TASK_QUEUE={queue} durable-assistants worker`"
    ) in said


def test_a_worker_for_a_task_queue_no_tool_declares_says_it_serves_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    process = subprocess.Popen(
        [WORKER_CLI, "worker", "--task-queue", "tools-typo"],
        env={**cli_env(settings), "LOG_FORMAT": "json"},
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        started = read_until(process, process.stderr, "worker started", timeout=60)
    finally:
        process.kill()
        process.wait()
    [warning] = [json.loads(line) for line in started.splitlines() if "serving" in line]
    assert warning["event"] == "serving nothing: no tool of TOOLS_MODULES declares this task queue"
    assert (warning["level"], warning["task_queue"]) == ("warning", "tools-typo")


@pytest.mark.parametrize("variable", ["METRICS_PORT", "HEALTH_PORT"])
async def test_a_worker_whose_metrics_or_health_port_is_taken_names_the_setting_and_exits_2(
    settings: Settings, variable: str
) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = await cli(settings, "worker", env={variable: str(port)})
    assert result.returncode == 2
    assert f"error: {variable}: cannot serve" in result.stderr
    assert f"on port {port}: " in result.stderr
