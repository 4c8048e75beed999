"""Code interpreter end to end, on both backends: a CSV attached for code_interpreter, "chart
the totals by month" -> a completed run whose result shows the code the model ran, its logs
(the CSV's real sums), and the chart (PNG) and summary (CSV) it generated, each downloaded
once into `download_to`."""

from __future__ import annotations

import asyncio
import csv
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from openai import AsyncOpenAI
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import ActivityEnvironment

from activities.run.downloads import GeneratedFiles, local_name
from emulator.config import FaultRule
from tests.integration.conftest import Counters, both_backends, run, spawn_worker, start
from workers.client import follow, send_message
from workers.settings import Settings
from workflows.contracts import RunRequest, RunResult, ThreadConfig, ThreadMessage
from workflows.run.outcome import GeneratedFile
from workflows.run.progress import CodeInterpreterRan
from workflows.run.steps import DOWNLOAD_FILE, DownloadFile

SALES = Path(__file__).parents[2] / "examples" / "sales.csv"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CONTENT = {
    "assistants": ("file_downloads", "GET /v1/files/{file_id}/content 200"),
    "responses": (
        "container_file_downloads",
        "GET /v1/containers/{container_id}/files/{file_id}/content 200",
    ),
}

CONTENT_ROUTE = {
    "assistants": r"^GET /v1/files/[^/]+/content$",
    "responses": r"^GET /v1/containers/[^/]+/files/[^/]+/content$",
}


async def chart_request(
    backend: str, openai: AsyncOpenAI, download_to: Path | None, text: str
) -> RunRequest:
    upload = await openai.files.create(
        file=(f"sales-{uuid.uuid4().hex[:6]}.csv", SALES.read_bytes()), purpose="assistants"
    )
    target: dict[str, Any] = {"assistant": {"name": "analyst", "model": "gpt-4o", "tools": []}}
    if backend == "assistants":
        made = await openai.beta.assistants.create(
            model="gpt-4o", tools=[{"type": "code_interpreter"}]
        )
        target = {"assistant_id": made.id}
    else:
        target["assistant"]["tools"] = ["code_interpreter"]
    attachment = {"file_id": upload.id, "tools": ["code_interpreter"]}
    return RunRequest.model_validate(
        {
            "backend": backend,
            **target,
            "messages": [{"content": text, "attachments": [attachment]}],
            "download_to": str(download_to) if download_to else None,
        }
    )


def sums() -> tuple[int, int]:
    """The sample's row count and its units column's sum, computed here."""
    with SALES.open() as file:
        rows = list(csv.DictReader(file))
    return len(rows), sum(int(row["units"]) for row in rows)


@both_backends
async def test_a_chart_of_a_csv_shows_its_code_and_logs_and_downloads_each_file_once(
    client: Client,
    task_queue: str,
    worker: None,
    openai: AsyncOpenAI,
    backend: str,
    counters: Counters,
    tmp_path: Path,
) -> None:
    request = await chart_request(backend, openai, tmp_path, "Chart the totals by month")
    handle = await start(client, task_queue, request)
    result = await handle.result()
    assert result.status == "completed"
    [call] = result.code_interpreter_calls
    followed = [e async for e in follow(client, handle.id)]
    ran = [e for e in followed if isinstance(e, CodeInterpreterRan)]
    assert [(e.call_id, e.code, e.logs) for e in ran] == [(call.id, call.code, call.logs)]
    assert "month" in call.code
    rows, units = sums()
    assert f"rows: {rows}," in call.logs
    assert str(units) in call.logs
    by_type = {file.mime_type: file for file in result.files}
    assert set(by_type) == {"image/png", "text/csv"}
    for file in result.files:
        assert file.path is not None
        assert file.download_error is None
        downloaded = Path(file.path)
        assert downloaded.parent == tmp_path
        assert downloaded.stat().st_size == file.bytes
    assert Path(by_type["image/png"].path or "").read_bytes().startswith(PNG_SIGNATURE)
    assert "month" in Path(by_type["text/csv"].path or "").read_text()
    name, route = CONTENT[backend]
    assert counters.delta("requests", route) == 2
    assert [counters.delta(name, file.file_id) for file in result.files] == [1, 1]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        Path(file.path or "").name for file in result.files
    ), "no partial file left behind"


@both_backends
async def test_without_download_to_the_files_are_listed_and_nothing_is_downloaded(
    client: Client,
    task_queue: str,
    worker: None,
    openai: AsyncOpenAI,
    backend: str,
    counters: Counters,
) -> None:
    result = await run(client, task_queue, await chart_request(backend, openai, None, "Plot it"))
    assert len(result.files) == 2
    assert all(f.path is None and f.bytes for f in result.files)
    assert counters.delta("requests", CONTENT[backend][1]) == 0


@both_backends
async def test_a_download_directory_missing_on_the_workers_leaves_the_run_completed(
    client: Client, task_queue: str, worker: None, openai: AsyncOpenAI, backend: str, tmp_path: Path
) -> None:
    nowhere = tmp_path / "not-there"
    request = await chart_request(backend, openai, nowhere, "Chart the totals by month")
    request = request.model_copy(
        update={
            "timeouts": request.timeouts.model_copy(
                update={"api_max_attempts": 2, "api_initial_retry_seconds": 0.05}
            )
        }
    )
    result: RunResult = await run(client, task_queue, request)
    assert result.status == "completed"
    assert [f.path for f in result.files] == [None, None]
    for file in result.files:
        assert f"download_to: {nowhere} is not a directory on " in (file.download_error or "")


@both_backends
async def test_a_download_cut_halfway_is_fetched_again_whole_and_the_other_file_once(
    client: Client,
    task_queue: str,
    worker: None,
    openai: AsyncOpenAI,
    backend: str,
    counters: Counters,
    faults: Callable[..., None],
    tmp_path: Path,
) -> None:
    name, _ = CONTENT[backend]
    faults(FaultRule(route=CONTENT_ROUTE[backend], drop="body", times=1))
    request = await chart_request(backend, openai, tmp_path, "Chart the totals by month")
    request.timeouts.api_initial_retry_seconds = 0.05
    result = await run(client, task_queue, request)
    assert all(f.path and Path(f.path).stat().st_size == f.bytes for f in result.files)
    assert sorted(counters.delta(name, f.file_id) for f in result.files) == [1, 2]
    assert len(list(tmp_path.iterdir())) == 2, "the cut download left no partial file"


@both_backends
async def test_a_worker_killed_mid_download_loses_no_file_and_fetches_a_done_one_never_again(
    client: Client,
    task_queue: str,
    settings: Settings,
    temporal_address: str,
    openai: AsyncOpenAI,
    backend: str,
    counters: Counters,
    faults: Callable[..., None],
    worker_process: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    faults(FaultRule(route=CONTENT_ROUTE[backend], latency=30, times=1))  # one download hangs
    worker_process.append(spawn_worker(settings, temporal_address))
    request = await chart_request(backend, openai, tmp_path, "Chart the totals by month")
    # heartbeats of 2 s: with 1 s a loaded machine times out a download that is still writing
    quick = {"heartbeat_seconds": 2, "api_initial_retry_seconds": 0.05}
    request.timeouts = request.timeouts.model_copy(update=quick)
    handle = await start(client, task_queue, request)
    await downloaded_one(tmp_path)  # the other file, while the first hangs
    worker_process[0].kill()
    worker_process.append(spawn_worker(settings, temporal_address))
    result = await handle.result()
    assert result.status == "completed"
    assert all(f.path and Path(f.path).stat().st_size == f.bytes for f in result.files)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        Path(f.path or "").name for f in result.files
    ), "the killed download left no partial file"
    name, _ = CONTENT[backend]
    counts = sorted(counters.delta(name, f.file_id) for f in result.files)
    assert counts[0] == 1, "the file done before the kill was not fetched again"


@pytest.mark.parametrize("already_there", [False, True])
async def test_a_download_removes_the_half_files_killed_attempts_left(
    openai: AsyncOpenAI, counters: Counters, tmp_path: Path, already_there: bool
) -> None:
    # A worker killed while it wrote leaves `.<name>.<pid>.partial`; the attempt that finds or
    # writes the whole file removes them, whichever process left them.
    uploaded = await openai.files.create(
        file=("totals.csv", b"month,total\n1,2\n"), purpose="assistants"
    )
    file = GeneratedFile(file_id=uploaded.id, name="totals.csv")
    final = tmp_path / local_name(file)
    stale = [tmp_path / f".{final.name}.{pid}.partial" for pid in (4242, 4343)]
    for half in stale:
        half.write_bytes(b"month,to")
    if already_there:
        final.write_bytes(b"month,total\n1,2\n")
    other = tmp_path / ".cfile_other-totals.csv.4242.partial"  # another file's: left alone
    other.write_bytes(b"x")
    download = DownloadFile(file=file, directory=str(tmp_path))
    path = await ActivityEnvironment().run(GeneratedFiles(openai).download_file, download)
    assert Path(path) == final
    assert final.read_bytes() == b"month,total\n1,2\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([final.name, other.name])
    assert counters.delta("file_downloads", uploaded.id) == (0 if already_there else 1)


@both_backends
async def test_a_conversation_message_gets_its_csv_charted_and_the_files_downloaded(
    client: Client,
    task_queue: str,
    worker: None,
    openai: AsyncOpenAI,
    backend: str,
    tmp_path: Path,
) -> None:
    request = await chart_request(backend, openai, None, "unused")
    target = request.model_dump(include={"assistant_id", "assistant"}, exclude_none=True)
    config = ThreadConfig.model_validate(
        {"key": f"ci-{uuid.uuid4().hex[:8]}", "backend": backend, **target}
    )
    message = ThreadMessage(
        content="Chart the totals by month",
        attachments=request.messages[0].attachments,
        overrides={"download_to": str(tmp_path)},
    )
    answered = await send_message(client, task_queue, config, message)
    assert answered.status == "completed"
    assert len(answered.code_interpreter_calls) == 1
    assert sorted(Path(f.path or "").parent for f in answered.files) == [tmp_path, tmp_path]


@both_backends
async def test_a_run_cancelled_while_it_downloads_reports_what_it_got_and_leaves_no_part(
    client: Client,
    task_queue: str,
    worker: None,
    openai: AsyncOpenAI,
    backend: str,
    faults: Callable[..., None],
    tmp_path: Path,
) -> None:
    faults(FaultRule(route=CONTENT_ROUTE[backend], latency=30, times=1))  # one download hangs
    request = await chart_request(backend, openai, tmp_path, "Chart the totals by month")
    request.timeouts = request.timeouts.model_copy(update={"heartbeat_seconds": 1})
    handle = await start(client, task_queue, request)
    await download_recorded(handle)
    await handle.cancel()
    result = await handle.result()
    assert result.status == "completed", "the API run had completed: that is its status"
    got = [f for f in result.files if f.path is not None]
    assert [Path(f.path or "") for f in got] == list(tmp_path.iterdir())
    assert len(result.files) - len(got) == 1, "the hanging download was stopped, not waited for"


async def download_recorded(handle: WorkflowHandle[Any, Any]) -> None:
    """Wait until the workflow has taken in one finished download (a workflow task completed
    after a download activity did)."""
    for _ in range(400):
        events = (await handle.fetch_history()).events
        downloads = {
            e.event_id
            for e in events
            if e.activity_task_scheduled_event_attributes.activity_type.name == DOWNLOAD_FILE.name
        }
        done = [
            e.event_id
            for e in events
            if e.activity_task_completed_event_attributes.scheduled_event_id in downloads
        ]
        if done and any(
            e.event_id > done[0] and e.HasField("workflow_task_completed_event_attributes")
            for e in events
        ):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("no download was recorded")


async def downloaded_one(directory: Path) -> None:
    """Wait until one file is downloaded whole (named, not a hidden partial)."""
    for _ in range(400):
        if [p for p in directory.iterdir() if not p.name.startswith(".")]:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("no file was downloaded")
