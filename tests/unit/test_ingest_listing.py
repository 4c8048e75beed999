"""An ingest result's lists of outcomes: every file's while they fit, else those not completed."""

from __future__ import annotations

from workflows.common import RunError
from workflows.ingest.contracts import RESULT_BUDGET, FileOutcome, IngestResult
from workflows.ingest.listing import Listing

TEMPORALS_LIMIT = 2 * 1024 * 1024


def outcome(
    index: int, status: str = "completed", source: str = "", **fields: object
) -> FileOutcome:
    source = source or f"docs/{index}.md"
    return FileOutcome.model_validate(
        {"source": source, "index": index, "status": status, **fields}
    )


def listed(listing: Listing, files: list[FileOutcome]) -> tuple[IngestResult, int]:
    for file in files:
        listing.add(file)
    data = listing.result("vs_1", {"completed": 1}, parts=["p-0"]).payload.data
    return IngestResult.model_validate_json(data), len(data)


def test_every_outcome_is_listed_in_order_while_they_fit() -> None:
    error = RunError(code="unsupported_file", message="image.xyz: not indexed")
    files = [
        outcome(0, file_id="file-0", bytes=10),
        outcome(1, "skipped", last_error=error, bytes=3),
        outcome(2, "failed", file_id="file-2", attempts=3, bytes=5),
    ]
    result, _ = listed(Listing(), files)
    assert result.files == files
    assert result.skipped == [files[1]]
    assert (result.files_omitted, result.by_status) == (
        0,
        {"completed": 1, "skipped": 1, "failed": 1},
    )
    assert (result.bytes_total, result.bytes_uploaded) == (18, 15)
    assert (result.vector_store_id, result.file_counts, result.parts) == (
        "vs_1",
        {"completed": 1},
        ["p-0"],
    )


def test_beyond_the_budget_only_the_files_not_completed_are_listed_and_the_others_counted() -> None:
    one = len(outcome(0).model_dump_json()) + 1
    files = [outcome(n, "failed" if n in (3, 17) else "completed") for n in range(20)]
    result, _ = listed(Listing(budget=10 * one), files)
    assert [f.index for f in result.files] == [3, 17], "completed before and after the limit go"
    assert result.files_omitted == 18
    assert result.by_status == {"completed": 18, "failed": 2}


def test_files_not_completed_beyond_the_budget_are_listed_up_to_it_in_order() -> None:
    one = len(outcome(0, "failed").model_dump_json()) + 1
    files = [outcome(n, "failed") for n in range(10)]
    files[1:1] = [outcome(100, "completed")]
    result, _ = listed(Listing(budget=4 * one), files)
    assert [f.index for f in result.files] == [0, 1, 2, 3]
    assert (result.files_omitted, result.by_status) == (7, {"failed": 10, "completed": 1})


def test_once_a_file_not_completed_did_not_fit_no_later_one_is_listed() -> None:
    long = outcome(1, "failed", source="x" * 500)
    files = [outcome(0, "failed"), long, outcome(2, "failed")]
    result, _ = listed(Listing(budget=300), files)
    assert [f.index for f in result.files] == [0]
    assert result.files_omitted == 2


def test_ten_thousand_long_outcomes_make_a_result_within_temporals_payload_limit() -> None:
    """The worst an ingest may return: the most files, long paths and long errors, every
    file skipped (so listed twice). Without the budget this is 16 MB: a result Temporal
    refuses, leaving the ingest's workflow unable ever to complete."""
    error = RunError(code="unreadable_file", message="e" * 600)
    files = [outcome(n, "skipped", source="/" + "p" * 250, last_error=error) for n in range(10_000)]
    result, size = listed(Listing(), files)
    assert size < RESULT_BUDGET + 1024 < TEMPORALS_LIMIT
    assert len(result.files) == len(result.skipped) > 0
    assert result.files_omitted == 10_000 - len(result.files)
    assert result.by_status == {"skipped": 10_000}


def test_ten_thousand_completed_files_are_counted_not_listed() -> None:
    files = [
        outcome(n, file_id=f"file-{n:024d}", bytes=100, source=f"/data/{n}.md")
        for n in range(10_000)
    ]
    result, size = listed(Listing(), files)
    assert (result.files, result.files_omitted) == ([], 10_000)
    assert (result.by_status, result.bytes_uploaded) == ({"completed": 10_000}, 1_000_000)
    assert size < 1024
