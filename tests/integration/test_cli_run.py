"""`durable-assistants run | status | cancel` as a user types them, against a live worker."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from tests.integration.conftest import run_cli as cli
from workers.settings import Settings


async def test_run_prints_the_answer_the_whole_ui_link_and_json_result(
    settings: Settings, worker: None, assistant_id: str, tmp_path: Path
) -> None:
    workflow_id = f"run-{uuid.uuid4()}"
    plain = await cli(
        settings,
        "run",
        "--assistant-id",
        assistant_id,
        "-m",
        "What is the weather in Rome?",
        "--workflow-id",
        workflow_id,
        cwd=tmp_path,
        env={"COLUMNS": "40"},
    )
    assert plain.returncode == 0, plain.stderr
    assert "get_weather returned" in plain.stdout
    link = f"http://localhost:8233/namespaces/default/workflows/{workflow_id}"
    assert f"{workflow_id}  {link}" in plain.stderr.splitlines()
    as_json = await cli(
        settings, "run", "--assistant-id", assistant_id, "-m", "Hi", "--json", cwd=tmp_path
    )
    assert json.loads(as_json.stdout)["status"] == "completed"


async def test_run_with_an_assistant_file_and_an_uploaded_file(
    settings: Settings, worker: None, tmp_path: Path
) -> None:
    spec = tmp_path / "assistant.yaml"
    spec.write_text("name: cli-file-assistant\nmodel: gpt-4o\ntools: [file_search, calculate]\n")
    notes = tmp_path / "notes.md"
    notes.write_text("The office parrot is called Archimedes and loves crackers.")
    question = "What is the office parrot called?"
    result = await cli(
        settings,
        "run",
        "--assistant-file",
        str(spec),
        "--file",
        str(notes),
        "-m",
        question,
        "--json",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "Archimedes" in json.loads(result.stdout)["output_text"]


async def test_no_wait_then_status_then_cancel(
    settings: Settings, worker: None, assistant_id: str, tmp_path: Path
) -> None:
    started = await cli(
        settings,
        "run",
        "--assistant-id",
        assistant_id,
        "--no-wait",
        "-m",
        "Hello [[emulator queued=30]]",
        cwd=tmp_path,
    )
    workflow_id = started.stdout.strip()
    assert workflow_id.startswith("run-"), started.stderr
    running = await cli(settings, "status", workflow_id, cwd=tmp_path)
    assert json.loads(running.stdout)["phase"] in ("creating", "queued", "in_progress")
    cancelled = await cli(settings, "cancel", workflow_id, cwd=tmp_path)
    assert json.loads(cancelled.stdout)["phase"] == "cancelled", cancelled.stderr
    closed = await cli(settings, "status", workflow_id, cwd=tmp_path)
    assert json.loads(closed.stdout)["cancel_reason"] == "cancelled from the CLI"


async def test_bad_arguments_are_one_line_and_exit_2(settings: Settings, tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: x\n")
    result = await cli(settings, "run", "--assistant-file", str(spec), "-m", "hi", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: --assistant-file: {spec}: model: Field required"
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\n  model: gpt-4o\n")
    syntax = await cli(settings, "run", "--assistant-file", str(broken), "-m", "hi", cwd=tmp_path)
    assert syntax.returncode == 2
    assert syntax.stderr.strip() == (
        f"error: --assistant-file: {broken}:2:8: mapping values are not allowed here"
    )
    neither = await cli(settings, "run", "-m", "hi", cwd=tmp_path)
    assert neither.returncode == 2
    assert "exactly one of --assistant-id and --assistant-file" in neither.stderr
