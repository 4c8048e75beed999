"""What grows with a run or a sweep is kept bounded: tool calls in a result, a cleanup report."""

from __future__ import annotations

from workflows.cleanup.contracts import REPORTED_ITEMS, CleanupItem, CleanupReport
from workflows.common import ToolCallResult
from workflows.run.tool_calls import FULL_TOOL_CALLS, KEPT_TOOL_CALLS, SUMMARY_CHARS, bounded


def call(n: int) -> ToolCallResult:
    return ToolCallResult(id=f"call_{n}", name="t", arguments="a" * 1000, output="o" * 1000)


def test_the_last_calls_stay_whole_and_older_ones_are_summarised() -> None:
    calls, dropped = bounded([call(n) for n in range(30)])
    assert (len(calls), dropped) == (30, 0)
    older, recent = calls[:-FULL_TOOL_CALLS], calls[-FULL_TOOL_CALLS:]
    assert all(c.summarised and len(c.output) == SUMMARY_CHARS for c in older)
    assert all(not c.summarised and len(c.output) == 1000 for c in recent)
    assert [c.id for c in calls] == [f"call_{n}" for n in range(30)]


def test_at_most_so_many_calls_are_kept_and_the_rest_counted() -> None:
    calls, dropped = bounded([call(n) for n in range(KEPT_TOOL_CALLS + 50)])
    assert (len(calls), dropped) == (KEPT_TOOL_CALLS, 50)
    assert calls[0].id == "call_50"
    again, more = bounded([*calls, call(999)])
    assert (len(again), more, again[-1].id) == (KEPT_TOOL_CALLS, 1, "call_999")


def test_a_report_keeps_its_first_items_and_exact_counts() -> None:
    report = CleanupReport(dry_run=False)
    items = [CleanupItem(kind="files", id=f"file-{n}", foreign=n % 2 == 0) for n in range(1500)]
    report.add("deleted", items[:700])
    report.add("deleted", items[700:])
    assert (len(report.deleted), report.deleted_count, report.truncated) == (
        REPORTED_ITEMS,
        1500,
        True,
    )
    assert report.foreign_deleted == 750
