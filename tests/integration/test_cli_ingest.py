"""`durable-assistants ingest` as a user types it: the progress of each phase, a line per file,
the summary, `--json`, and paths that name no file."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import uuid
from pathlib import Path

from tests.integration.conftest import WORKER_CLI, Counters, cli_env
from tests.integration.conftest import run_cli as cli
from workers.settings import Settings


def write(folder: Path, name: str, text: str = "") -> Path:
    path = folder / name
    path.write_text(f"{uuid.uuid4()} {text}")
    return path


def store_name() -> str:
    return f"cli-{uuid.uuid4().hex[:8]}"


async def test_ingest_lists_each_file_with_its_outcome_and_exits_1_when_some_fail(
    settings: Settings, worker: None, tmp_path: Path
) -> None:
    good, bad, name = write(tmp_path, "good.md"), write(tmp_path, "bad.xyz"), store_name()
    mixed = await cli(settings, "ingest", name, str(good), str(bad))
    assert mixed.returncode == 1, mixed.stderr
    lines = mixed.stdout.splitlines()
    assert re.fullmatch(rf"indexed +{good}", lines[0])
    reason = "unsupported_file: bad.xyz: file_search does not index '.xyz'"
    assert re.fullmatch(rf"failed +{bad}  {re.escape(reason)}", lines[1])
    assert re.fullmatch(
        rf"1 indexed, 0 already there, 1 failed \(vector store {name}: vs_\w+\)", lines[2]
    )
    assert len(lines) == 3

    notes = tmp_path / "notes"
    notes.mkdir()
    more = [write(notes, "a.md"), write(notes, "b.md")]
    again = await cli(settings, "ingest", name, str(good), str(notes / "*.md"))  # quoted glob
    assert again.returncode == 0, again.stderr
    assert [line.split("  ")[0].strip() for line in again.stdout.splitlines()[:3]] == [
        "already there",
        "indexed",
        "indexed",
    ]
    assert [line.split()[-1] for line in again.stdout.splitlines()[1:3]] == [str(p) for p in more]
    assert again.stdout.splitlines()[3].startswith("2 indexed, 1 already there, 0 failed")


async def test_ingest_json_is_the_result_of_every_file_named_in_order(
    settings: Settings, worker: None, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.md"
    empty.write_text("")
    good = write(tmp_path, "good.md")
    result = await cli(settings, "ingest", store_name(), str(empty), str(good), "--json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert [(f["source"], f["status"]) for f in report["files"]] == [
        (str(empty), "skipped"),
        (str(good), "completed"),
    ]
    assert report["files"][0]["last_error"]["code"] == "empty_file"
    assert report["files"][1]["already_in_store"] is False
    assert [f["source"] for f in report["skipped"]] == [str(empty)]
    assert report["file_counts"]["completed"] == 1


async def test_a_pattern_matching_nothing_or_a_missing_path_is_refused_before_any_upload(
    settings: Settings, tmp_path: Path, counters: Counters
) -> None:
    good = write(tmp_path, "good.md")
    unmatched = await cli(settings, "ingest", store_name(), str(good), "docs/*.pdf", cwd=tmp_path)
    assert unmatched.returncode == 2
    assert unmatched.stderr.strip() == "error: no file matches docs/*.pdf"
    missing = await cli(settings, "ingest", store_name(), "docs/handbook.md", cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.strip() == "error: no such file: docs/handbook.md"
    assert unmatched.stdout == missing.stdout == ""
    assert counters.delta("files_created") == 0


async def test_ingest_shows_each_phase_with_files_done_out_of_its_total(
    settings: Settings, worker: None, tmp_path: Path
) -> None:
    slow = [write(tmp_path, f"slow{n}.md", "[[emulator index=1.5]]") for n in range(2)]
    terminal = {"TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "1", "NO_COLOR": "1", "COLUMNS": "80"}
    shown = await asyncio.to_thread(
        subprocess.run,
        [WORKER_CLI, "ingest", store_name(), *map(str, slow)],
        env={**cli_env(settings), **terminal},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr
    drawn = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.stderr)  # the terminal's controls
    frames = re.findall(r"(checking|uploading|indexing|done)[━ ]+(\d+/\d+)", drawn)
    assert list(dict.fromkeys(phase for phase, _ in frames))[:3] == [
        "checking",
        "uploading",
        "indexing",
    ], drawn
    assert ("indexing", "0/2") in frames  # the workflow's query: files indexed out of all
