"""An ingest's parts: counted for progress, their outcomes listed in order under their index."""

from __future__ import annotations

from collections import Counter

from temporalio.api.common.v1 import Payload
from temporalio.common import RawValue

from workflows.common import RunError
from workflows.ingest.contracts import FileOutcome, IngestResult
from workflows.ingest.parts import Parts


def outcome(source: str, status: str = "completed", **fields: object) -> FileOutcome:
    return FileOutcome.model_validate({"source": source, "status": status, **fields})


def part_result(
    files: list[FileOutcome], skipped: list[FileOutcome] | None = None, **fields: object
) -> RawValue:
    """A part's result as code before `index`, `by_status` and `files_omitted` wrote it,
    unless `fields` give them."""
    result = IngestResult.model_validate(
        {"vector_store_id": "vs_part", "files": files, "file_counts": {}, "skipped": skipped or []}
        | fields
    )
    data = result.model_dump_json(exclude_defaults=not fields).encode()
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
        parts.add(f"ingest/files-{parts.done}", part_result(files, skipped))
    result = joined(parts)
    assert result.vector_store_id == "vs_1"
    assert result.file_counts == {"completed": 3, "failed": 1}
    expected = [odd, bad, failed, outcome("d.md")]
    assert [f.model_copy(update={"index": None}) for f in result.files] == expected
    assert [f.index for f in result.files] == [0, 1, 2, 3]
    assert result.skipped == [result.files[1]]
    assert result.parts == ["ingest/files-0", "ingest/files-2", "ingest/files-3"]
    assert (result.by_status, result.files_omitted) == (
        {"completed": 2, "skipped": 1, "failed": 1},
        0,
    )


def test_parts_without_skipped_files_join_into_empty_lists() -> None:
    parts = Parts(0)
    parts.add("p", part_result([]))
    assert joined(parts).files == []
    assert joined(parts).skipped == []


def test_the_parts_let_go_of_their_outcomes_once_joined_and_still_report_progress() -> None:
    parts = Parts(2)
    parts.add("p", part_result([outcome("a.md"), outcome("b.md", "failed")]))
    assert len(joined(parts).files) == 2
    assert joined(parts).files == []
    progress = parts.progress("done", 2, 2)
    assert progress.by_status == {"completed": 1, "failed": 1}


def test_a_part_index_counts_from_the_first_file_of_the_part() -> None:
    parts = Parts(6)
    parts.add("p0", part_result([outcome("a.md"), outcome("b.md"), outcome("c.md")]))
    listed = [
        outcome("d.md", index=0),
        outcome("e.md", "failed", index=1),
        outcome("f.md", index=2),
    ]
    parts.add("p3", part_result(listed, by_status={"completed": 2, "failed": 1}))
    assert [(f.source, f.index) for f in joined(parts).files][3:] == [
        ("d.md", 3),
        ("e.md", 4),
        ("f.md", 5),
    ]


def test_after_a_part_that_left_files_out_only_files_not_completed_are_listed() -> None:
    parts = Parts(1_010)
    parts.add("p0", part_result([outcome("a.md", bytes=1), outcome("b.md", "failed", bytes=2)]))
    failed = outcome("z.md", "failed", index=7, bytes=4)
    parts.add(
        "p2",
        part_result(
            [failed],
            by_status={"completed": 1_000, "failed": 1},
            files_omitted=1_000,
            bytes_total=5_004,
            bytes_uploaded=5_000,
        ),
    )
    result = joined(parts)
    assert [(f.source, f.index) for f in result.files] == [("b.md", 1), ("z.md", 9)]
    assert result.files_omitted == 1_001
    assert result.by_status == {"completed": 1_001, "failed": 2}
    assert (result.bytes_total, result.bytes_uploaded) == (5_007, 5_000)
    progress = parts.progress("done", 1_010, 1_010)
    assert progress.by_status == dict(Counter(completed=1_001, failed=2, pending=7))
    assert parts.done == 1_003


def test_progress_counts_the_files_of_parts_not_yet_done_as_pending() -> None:
    parts = Parts(10)
    assert parts.progress("ingesting", 0, 10).by_status == {"pending": 10}
    uploaded = outcome("a.md", file_id="file-1", bytes=100)
    skipped = outcome("b.xyz", "skipped", bytes=30)
    parts.add("p0", part_result([uploaded, skipped, outcome("c.md", "failed", bytes=5)]))
    progress = parts.progress("ingesting", 3, 10)
    assert progress.by_status == {"completed": 1, "skipped": 1, "failed": 1, "pending": 7}
    assert (progress.files, progress.phase_done, progress.phase_total) == (10, 3, 10)
    assert (progress.bytes_total, progress.bytes_uploaded) == (135, 100)
    parts.add("p3", part_result([outcome(f"{n}.md") for n in range(7)]))
    assert "pending" not in parts.progress("done", 10, 10).by_status
