"""VectorStoreIngest: uploads, batches and indexing waits, against the emulator."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from openai import AsyncOpenAI
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
)
from temporalio.exceptions import CancelledError

from emulator.config import FaultRule
from tests.integration.conftest import Assistant, Counters, ask, both_backends, run, spawn_worker
from workers.settings import Settings
from workflows.contracts import IngestRequest, IngestResult, RunTimeouts
from workflows.ingest.workflow import VectorStoreIngest

QUICK = RunTimeouts(heartbeat_seconds=1, api_initial_retry_seconds=0.05)


def write_docs(folder: Path, count: int, extra: str = "") -> list[Path]:
    tag = uuid.uuid4().hex
    paths = []
    for n in range(count):
        path = folder / f"doc{n}.md"
        path.write_text(f"Document {n} of batch {tag}. The code word is alpha{n}. {extra}")
        paths.append(path)
    return paths


def uploads_of(counters: Counters, paths: list[Path]) -> list[int]:
    by_hash = counters.read().get("file_uploads_by_sha256", {})
    return [by_hash.get(hashlib.sha256(p.read_bytes()).hexdigest(), 0) for p in paths]


async def ingest(client: Client, task_queue: str, **fields: Any) -> IngestResult:
    request = IngestRequest.model_validate({"timeouts": QUICK, **fields})
    return await client.execute_workflow(
        VectorStoreIngest.run, request, id=f"ingest-{uuid.uuid4()}", task_queue=task_queue
    )


async def test_two_hundred_files_in_batches_are_all_indexed_and_uploaded_once(
    client: Client, task_queue: str, worker: None, counters: Counters, tmp_path: Path
) -> None:
    paths = write_docs(tmp_path, 200)
    name = f"kb-{uuid.uuid4().hex[:8]}"
    files = [{"path": str(p)} for p in paths]
    result = await ingest(
        client, task_queue, vector_store={"name": name}, files=files, batch_size=60
    )
    assert [f.status for f in result.files] == ["completed"] * 200
    assert result.file_counts["completed"] == 200
    assert result.skipped == []
    assert not any(f.already_in_store for f in result.files)
    again = await ingest(client, task_queue, vector_store={"name": name}, files=files)
    assert again.vector_store_id == result.vector_store_id  # ensured by name, not created twice
    assert all(f.already_in_store for f in again.files)
    assert uploads_of(counters, paths) == [1] * 200  # re-running uploads nothing again


async def test_bad_files_are_reported_and_transient_index_failures_retried(
    client: Client, task_queue: str, worker: None, tmp_path: Path
) -> None:
    good = write_docs(tmp_path, 1)[0]
    (tmp_path / "image.xyz").write_text("not indexable")
    (tmp_path / "empty.md").write_text("")
    flaky = tmp_path / "flaky.md"
    flaky.write_text(f"{uuid.uuid4()} [[emulator index_failures=1]] recovers on retry")
    broken = tmp_path / "broken.md"
    broken.write_text(f"{uuid.uuid4()} [[emulator index=fail]] never indexes")
    files = [
        {"path": str(p)}
        for p in (
            good,
            tmp_path / "image.xyz",
            tmp_path / "empty.md",
            tmp_path / "missing.md",
            flaky,
            broken,
        )
    ]
    files.append({"text": f"Inline note {uuid.uuid4()}", "filename": "note.txt"})
    result = await ingest(
        client,
        task_queue,
        vector_store={"name": f"mix-{uuid.uuid4().hex[:8]}"},
        files=files,
        max_file_attempts=3,
    )
    statuses = [
        (f.status, f.last_error.code if f.last_error else None, f.attempts) for f in result.files
    ]
    assert statuses == [
        ("completed", None, 1),
        ("skipped", "unsupported_file", 0),
        ("skipped", "empty_file", 0),
        ("skipped", "unreadable_file", 0),
        ("completed", None, 2),
        ("failed", "server_error", 3),
        ("completed", None, 1),
    ]
    skipped = [str(tmp_path / name) for name in ("image.xyz", "empty.md", "missing.md")]
    assert [s.source for s in result.skipped] == skipped
    assert (result.file_counts["completed"], result.file_counts["failed"]) == (3, 1)


async def test_files_added_by_an_attempt_whose_answer_was_lost_are_not_already_in_the_store(
    client: Client,
    task_queue: str,
    worker: None,
    counters: Counters,
    faults: Callable[..., None],
    tmp_path: Path,
) -> None:
    faults(FaultRule(drop="body", times=1, route=r"^POST /v1/vector_stores/[^/]+/file_batches$"))
    files = [{"path": str(p)} for p in write_docs(tmp_path, 3)]
    result = await ingest(
        client, task_queue, vector_store={"name": f"lost-{uuid.uuid4().hex[:8]}"}, files=files
    )
    assert counters.delta("faults_injected", "drop_body") == 1  # the batch was made, unanswered
    assert [(f.status, f.already_in_store) for f in result.files] == [("completed", False)] * 3


async def test_a_worker_killed_while_indexing_finishes_without_double_uploads(
    client: Client,
    task_queue: str,
    settings: Settings,
    temporal_address: str,
    counters: Counters,
    tmp_path: Path,
    worker_process: list[subprocess.Popen[bytes]],
) -> None:
    paths = write_docs(tmp_path, 40, extra="[[emulator index=2]]")
    worker_process.append(spawn_worker(settings, temporal_address))
    request = IngestRequest.model_validate(
        {
            "vector_store": {"name": f"kill-{uuid.uuid4().hex[:8]}"},
            "timeouts": QUICK,
            "files": [{"path": str(p)} for p in paths],
        }
    )
    handle = await client.start_workflow(
        VectorStoreIngest.run, request, id=f"ingest-{uuid.uuid4()}", task_queue=task_queue
    )
    for _ in range(200):
        if (await handle.query(VectorStoreIngest.progress)).phase == "indexing":
            break
        await asyncio.sleep(0.05)
    worker_process[0].kill()
    worker_process[0].wait()
    worker_process.append(spawn_worker(settings, temporal_address))
    result = await asyncio.wait_for(handle.result(), timeout=90)
    assert result.file_counts["completed"] == 40
    assert uploads_of(counters, paths) == [1] * 40


async def searching(backend: str, openai: AsyncOpenAI, store_id: str) -> Assistant:
    """What `ask` runs with file_search over the store: an assistant, or a spec (responses)."""
    resources = {"file_search": {"vector_store_ids": [store_id]}}
    if backend == "responses":
        return {
            "name": "searcher",
            "model": "gpt-4o",
            "tools": ["file_search"],
            "tool_resources": resources,
        }
    created = await openai.beta.assistants.create(
        model="gpt-4o",
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_store_ids": [store_id]}},
    )
    return created.id


@both_backends
async def test_a_run_answers_from_the_ingested_store(
    backend: str,
    client: Client,
    task_queue: str,
    worker: None,
    openai: AsyncOpenAI,
    tmp_path: Path,
) -> None:
    handbook = tmp_path / "handbook.md"
    handbook.write_text(f"{uuid.uuid4()} Employees get thirty vacation days per year.")
    result = await ingest(
        client,
        task_queue,
        vector_store={"name": f"hb-{uuid.uuid4().hex[:6]}"},
        files=[{"path": str(handbook)}],
    )
    assistant = await searching(backend, openai, result.vector_store_id)
    answer = await run(client, task_queue, ask(assistant, "How many vacation days do we get?"))
    assert "thirty vacation days" in answer.output_text
    assert any(a.get("type") == "file_citation" for m in answer.messages for a in m.annotations)


@both_backends
async def test_a_run_waits_for_its_vector_store_to_finish_indexing(
    backend: str,
    client: Client,
    task_queue: str,
    worker: None,
    openai: AsyncOpenAI,
    tmp_path: Path,
) -> None:
    handbook = tmp_path / "parking.md"
    handbook.write_text(f"{uuid.uuid4()} Parking permits are free. [[emulator index=1.5]]")
    store = await openai.vector_stores.create(name=f"slow-{uuid.uuid4().hex[:6]}")
    uploaded = await openai.files.create(file=handbook, purpose="assistants")
    await openai.vector_stores.files.create(store.id, file_id=uploaded.id)
    assistant = await searching(backend, openai, store.id)
    too_short = ask(assistant, "Are parking permits free?", vector_store_ready_seconds=0.2)
    with pytest.raises(WorkflowFailureError) as failure:
        await run(client, task_queue, too_short)
    assert "still indexing" in str(failure.value.cause)
    patient = ask(assistant, "Are parking permits free?", vector_store_ready_seconds=30)
    answer = await run(client, task_queue, patient)
    assert "Parking permits are free" in answer.output_text


async def test_an_ingest_in_child_workflows_reports_every_file_once_in_order(
    client: Client, task_queue: str, worker: None, counters: Counters, tmp_path: Path
) -> None:
    paths = write_docs(tmp_path, 45)
    (tmp_path / "image.xyz").write_text("not indexable")
    flaky = tmp_path / "flaky.md"
    flaky.write_text(f"{uuid.uuid4()} [[emulator index_failures=1]] recovers on retry")
    files = [{"path": str(p)} for p in paths]
    files[12:12] = [{"path": str(tmp_path / "image.xyz")}]  # skipped, in the second part
    files[31:31] = [{"path": str(flaky)}]  # indexed on a second attempt, in the fourth part
    files.append({"text": f"Inline note {uuid.uuid4()}", "filename": "note.txt"})
    workflow_id = f"ingest-{uuid.uuid4()}"
    request = IngestRequest.model_validate(
        {
            "timeouts": QUICK,
            "vector_store": {"name": f"parts-{uuid.uuid4().hex[:8]}"},
            "files": files,
            "files_per_child": 10,
            "batch_size": 4,
        }
    )
    result = await client.execute_workflow(
        VectorStoreIngest.run, request, id=workflow_id, task_queue=task_queue
    )
    assert [f.source for f in result.files] == [f.source for f in request.files]
    statuses = [(f.status, f.attempts) for f in result.files]
    assert statuses[12] == ("skipped", 0)
    assert statuses[31] == ("completed", 2)
    assert statuses[:12] + statuses[13:31] + statuses[32:] == [("completed", 1)] * 46
    assert [s.source for s in result.skipped] == [str(tmp_path / "image.xyz")]
    ids = [f.file_id for f in result.files if f.file_id]
    assert len(set(ids)) == len(ids) == 47  # each file its own upload, reported once
    assert result.file_counts["completed"] == 47
    assert uploads_of(counters, [*paths, flaky]) == [1] * 46
    children = [e async for e in client.list_workflows(f'ParentWorkflowId = "{workflow_id}"')]
    assert sorted(e.id for e in children) == [f"{workflow_id}/files-{n}" for n in range(0, 50, 10)]
    assert {e.status for e in children} == {WorkflowExecutionStatus.COMPLETED}
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    assert len(history.events) <= 5 * 12 + 10  # about a dozen per part, none per file
    part = await client.get_workflow_handle(f"{workflow_id}/files-0").fetch_history()
    started = part.events[0].workflow_execution_started_event_attributes
    part_input = json.loads(started.input.payloads[0].data)
    assert "files_per_child" not in part_input, "a worker older than the field runs parts too"
    progress = await client.get_workflow_handle(workflow_id).query(VectorStoreIngest.progress)
    assert progress.by_status == dict(Counter(f.status for f in result.files))
    assert progress.bytes_total == sum(f.bytes for f in result.files) > 0
    assert progress.bytes_uploaded == sum(f.bytes for f in result.files if f.file_id)
    assert (progress.phase, progress.files, progress.phase_done) == ("done", 48, 48)


async def test_an_ingest_whose_outcomes_outgrow_temporals_payload_limit_still_completes(
    client: Client, task_queue: str, worker: None, tmp_path: Path
) -> None:
    """3,000 unreadable files under long paths: their outcomes, each naming the path twice,
    come to 4 MB, twice what Temporal takes as a result (it would refuse it, and the ingest
    could never complete). The result lists the files not completed that fit and counts
    every file; each part's own result is within the budget too."""
    folder = tmp_path / ("deep-folder-" * 18)
    missing = [{"path": str(folder / f"missing-{n}.md")} for n in range(3_000)]
    readable = [{"path": str(p)} for p in write_docs(tmp_path, 2)]
    files = [readable[0], *missing, readable[1]]
    request = IngestRequest.model_validate(
        {"timeouts": QUICK, "vector_store": {"name": f"big-{uuid.uuid4().hex[:8]}"}, "files": files}
    )
    handle = await client.start_workflow(
        VectorStoreIngest.run, request, id=f"ingest-{uuid.uuid4()}", task_queue=task_queue
    )
    result = await asyncio.wait_for(handle.result(), timeout=90)
    assert result.by_status == {"completed": 2, "skipped": 3_000}
    assert len(result.files) + result.files_omitted == 3_002
    assert {f.status for f in result.files} == {"skipped"}, "files not completed come first"
    indexes = [f.index for f in result.files]
    assert indexes == list(range(1, len(indexes) + 1)), "the first of them, in order"
    assert [f.source for f in result.files] == [f["path"] for f in files[1 : len(indexes) + 1]]
    assert result.skipped == result.files
    assert result.parts == [f"{handle.id}/files-{n}" for n in range(0, 3_002, 1_000)]
    for part_id in result.parts:
        part = await client.get_workflow_handle(part_id, result_type=IngestResult).result()
        assert len(part.files) + part.files_omitted == sum(part.by_status.values())
    history = await handle.fetch_history()
    completed = history.events[-1].workflow_execution_completed_event_attributes
    assert len(completed.result.payloads[0].data) < 600 * 1024


async def start_in_parts(
    client: Client, task_queue: str, paths: list[Path], name: str
) -> WorkflowHandle[VectorStoreIngest, IngestResult]:
    """An ingest of `paths` in parts of 10 files, once its first part is done."""
    request = IngestRequest.model_validate(
        {
            "vector_store": {"name": f"{name}-{uuid.uuid4().hex[:8]}"},
            "timeouts": QUICK,
            "files": [{"path": str(p)} for p in paths],
            "files_per_child": 10,
        }
    )
    handle = await client.start_workflow(
        VectorStoreIngest.run, request, id=f"ingest-{uuid.uuid4()}", task_queue=task_queue
    )
    for _ in range(400):  # the first part is done, the second under way
        if (await handle.query(VectorStoreIngest.progress)).phase_done >= 10:
            return handle
        await asyncio.sleep(0.025)
    raise AssertionError("the first part never finished")


async def test_an_ingest_in_parts_cancelled_mid_way_leaves_no_part_running_and_starts_no_more(
    client: Client, task_queue: str, worker: None, tmp_path: Path
) -> None:
    paths = write_docs(tmp_path, 30, extra="[[emulator index=0.3]]")
    handle = await start_in_parts(client, task_queue, paths, "cancel")
    await handle.cancel()
    with pytest.raises(WorkflowFailureError) as failed:
        await asyncio.wait_for(handle.result(), timeout=30)
    assert isinstance(failed.value.cause, CancelledError)
    parts = [e async for e in client.list_workflows(f'ParentWorkflowId = "{handle.id}"')]
    assert len(parts) < 3, "no part is started after the cancel"
    for part in parts:  # the part under way is cancelled, or terminated as the parent closes
        status = (await client.get_workflow_handle(part.id).describe()).status
        assert status != WorkflowExecutionStatus.RUNNING, "no part is left running"


async def test_a_worker_killed_between_parts_finishes_without_double_uploads(
    client: Client,
    task_queue: str,
    settings: Settings,
    temporal_address: str,
    counters: Counters,
    tmp_path: Path,
    worker_process: list[subprocess.Popen[bytes]],
) -> None:
    paths = write_docs(tmp_path, 30, extra="[[emulator index=0.3]]")
    worker_process.append(spawn_worker(settings, temporal_address))
    handle = await start_in_parts(client, task_queue, paths, "kill")
    progress = await handle.query(VectorStoreIngest.progress)
    done = progress.phase_done
    assert progress.by_status == {"completed": done, "pending": 30 - done}
    assert (progress.phase, progress.files) == ("ingesting", 30)
    worker_process[0].kill()
    worker_process[0].wait()
    worker_process.append(spawn_worker(settings, temporal_address))
    result = await asyncio.wait_for(handle.result(), timeout=90)
    assert [f.status for f in result.files] == ["completed"] * 30
    assert result.file_counts["completed"] == 30
    assert uploads_of(counters, paths) == [1] * 30
