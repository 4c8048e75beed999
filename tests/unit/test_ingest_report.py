"""`durable-assistants ingest`'s report from the workflow's result: files it refused itself,
outcomes under the paths named, results that leave files out, workers older than `index`."""

from __future__ import annotations

from pathlib import Path

import pytest

from workers.cli.ingest import print_report, result_of, some_failed
from workflows.common import RunError
from workflows.ingest.contracts import FileOutcome, IngestResult
from workflows.ingest.steps import CheckedFile

REFUSED = CheckedFile(error=RunError(code="unsupported_file", message="b.xyz: not indexed"))


def named(count: int) -> list[Path]:
    return [Path(f"docs/{n}.md") for n in range(count)]


def test_every_file_is_reported_under_its_path_with_those_refused_here_in_order() -> None:
    files = [*named(2), Path("b.xyz")]
    workflow = IngestResult(
        vector_store_id="vs_1",
        files=[
            FileOutcome(source="0.md", index=0, status="completed"),
            FileOutcome(source="1.md", index=1, status="failed"),
        ],
        file_counts={"completed": 1},
        skipped=[],
        by_status={"completed": 1, "failed": 1},
    )
    result = result_of(files, [CheckedFile(), CheckedFile(), REFUSED], workflow)
    assert [(f.source, f.index, f.status) for f in result.files] == [
        ("docs/0.md", 0, "completed"),
        ("docs/1.md", 1, "failed"),
        ("b.xyz", 2, "skipped"),
    ]
    assert result.by_status == {"completed": 1, "failed": 1, "skipped": 1}
    assert [f.source for f in result.skipped] == ["b.xyz"]


def test_a_result_from_a_worker_older_than_index_is_matched_by_position() -> None:
    files = [Path("b.xyz"), *named(2)]
    old = IngestResult(
        vector_store_id="vs_1",
        files=[
            FileOutcome(source="0.md", status="failed"),
            FileOutcome(source="1.md", status="completed"),
        ],
        file_counts={},
        skipped=[],
    )
    result = result_of(files, [REFUSED, CheckedFile(), CheckedFile()], old)
    assert [(f.source, f.status) for f in result.files] == [
        ("b.xyz", "skipped"),
        ("docs/0.md", "failed"),
        ("docs/1.md", "completed"),
    ]
    assert result.by_status == {"skipped": 1, "failed": 1, "completed": 1}
    assert some_failed(result)


def test_files_the_workflow_left_out_are_counted_not_reported_one_by_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A result over its budget lists only the files not completed: the report names those
    and counts the rest, and exits 0 only if every file is in the store."""
    files = named(5_000)
    failed = FileOutcome(source="7.md", index=7, status="failed")
    workflow = IngestResult(
        vector_store_id="vs_1",
        files=[failed],
        file_counts={"completed": 4_999},
        skipped=[],
        by_status={"completed": 4_999, "failed": 1},
        files_omitted=4_999,
    )
    result = result_of(files, [CheckedFile()] * 5_000, workflow)
    assert [(f.source, f.index) for f in result.files] == [("docs/7.md", 7)]
    assert (result.files_omitted, some_failed(result)) == (4_999, True)
    print_report(result, "kb")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["failed", "docs/7.md", "indexing", "ended", "failed"]
    assert lines[1] == (
        "4999 indexed or already there, 1 failed; 4999 not listed above (vector store kb: vs_1)"
    )
    every = workflow.model_copy(update={"files": [], "by_status": {"completed": 5_000}})
    assert not some_failed(result_of(files, [CheckedFile()] * 5_000, every))
