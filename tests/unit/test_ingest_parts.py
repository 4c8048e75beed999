"""An ingest's parts: their outcomes kept as JSON, counted for progress, joined in order."""

from __future__ import annotations

from temporalio.api.common.v1 import Payload
from temporalio.common import RawValue

from workflows.common import RunError
from workflows.ingest.contracts import FileOutcome, IngestResult
from workflows.ingest.parts import Parts


def outcome(source: str, status: str = "completed", **fields: object) -> FileOutcome:
    return FileOutcome.model_validate({"source": source, "status": status, **fields})


def part_result(files: list[FileOutcome], skipped: list[FileOutcome] | None = None) -> RawValue:
    result = IngestResult(
        vector_store_id="vs_part", files=files, file_counts={}, skipped=skipped or []
    )
    data = result.model_dump_json().encode()
    return RawValue(Payload(metadata={"encoding": b"json/plain"}, data=data))


def joined(parts: Parts) -> IngestResult:
    raw = parts.result("vs_1", {"completed": 3, "failed": 1})
    assert raw.payload.metadata["encoding"] == b"json/plain"
    return IngestResult.model_validate_json(raw.payload.data)


def test_the_parts_outcomes_are_joined_in_order_with_their_skipped_files() -> None:
    odd = outcome('a "quoted" näme\n.md', file_id="file-1", bytes=7)
    error = RunError(code="unsupported_file", message="?")
    bad = outcome("image.xyz", "skipped", last_error=error)
    failed = outcome("c.md", "failed", attempts=3, file_id="file-3", bytes=5)
    parts = Parts(5)
    for files, skipped in [([odd, bad], [bad]), ([failed], None), ([outcome("d.md")], None)]:
        parts.add(part_result(files, skipped))
    result = joined(parts)
    assert result.vector_store_id == "vs_1"
    assert result.file_counts == {"completed": 3, "failed": 1}
    assert result.files == [odd, bad, failed, outcome("d.md")]
    assert result.skipped == [bad]


def test_parts_without_skipped_files_join_into_empty_lists() -> None:
    parts = Parts(0)
    parts.add(part_result([]))
    assert joined(parts).files == []
    assert joined(parts).skipped == []


def test_the_parts_let_go_of_their_outcomes_once_joined_and_still_report_progress() -> None:
    parts = Parts(2)
    parts.add(part_result([outcome("a.md"), outcome("b.md", "failed")]))
    assert len(joined(parts).files) == 2
    assert joined(parts).files == []
    progress = parts.progress("done", 2, 2)
    assert progress.by_status == {"completed": 1, "failed": 1}


def test_progress_counts_the_files_of_parts_not_yet_done_as_pending() -> None:
    parts = Parts(10)
    assert parts.progress("ingesting", 0, 10).by_status == {"pending": 10}
    uploaded = outcome("a.md", file_id="file-1", bytes=100)
    skipped = outcome("b.xyz", "skipped", bytes=30)
    parts.add(part_result([uploaded, skipped, outcome("c.md", "failed", bytes=5)]))
    progress = parts.progress("ingesting", 3, 10)
    assert progress.by_status == {"completed": 1, "skipped": 1, "failed": 1, "pending": 7}
    assert (progress.files, progress.phase_done, progress.phase_total) == (10, 3, 10)
    assert (progress.bytes_total, progress.bytes_uploaded) == (135, 100)
    parts.add(part_result([outcome(f"{n}.md") for n in range(7)]))
    assert "pending" not in parts.progress("done", 10, 10).by_status
