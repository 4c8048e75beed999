"""The emulated code interpreter's analysis: real sums from the file's bytes, a real PNG, a
summary CSV, and logs that say why nothing was generated when the file cannot be charted."""

from __future__ import annotations

import csv
import io
import struct
import zlib
from pathlib import Path

import pytest

from emulator import code_interpreter, png

SALES = Path(__file__).parents[2] / "examples" / "sales.csv"


def _expected_sums() -> tuple[int, dict[str, tuple[int, float]]]:
    rows = list(csv.DictReader(io.StringIO(SALES.read_text())))
    by_month: dict[str, tuple[int, float]] = {}
    for row in rows:
        units, revenue = by_month.get(row["month"], (0, 0.0))
        by_month[row["month"]] = (units + int(row["units"]), revenue + float(row["revenue"]))
    return len(rows), by_month


def _pixels(data: bytes) -> tuple[int, int, bytes]:
    """Decode the PNG's single IDAT (filter 0 rows) back to raw RGB rows."""
    width, height = png.dimensions(data)
    idat_length = struct.unpack(">I", data[33:37])[0]
    assert data[37:41] == b"IDAT"
    raw = zlib.decompress(data[41 : 41 + idat_length])
    assert len(raw) == height * (1 + 3 * width)
    return width, height, raw


def test_sums_and_groups_the_sample_by_month() -> None:
    analysis = code_interpreter.analyse(
        "sales.csv", "/mnt/data/file-1", SALES.read_bytes(), "chart the totals by month"
    )
    rows, by_month = _expected_sums()
    assert f"rows: {rows}, columns: 4 (month, region, units, revenue)" in analysis.logs
    total_units = sum(u for u, _ in by_month.values())
    assert f"units    {total_units}\n" in analysis.logs
    assert analysis.summary is not None
    summary = list(csv.reader(io.StringIO(analysis.summary.decode())))
    assert summary[0] == ["month", "units", "revenue"]
    assert [(r[0], int(r[1]), float(r[2])) for r in summary[1:]] == [
        (month, units, round(revenue, 2)) for month, (units, revenue) in by_month.items()
    ]
    assert "pd.read_csv('/mnt/data/file-1')" in analysis.code
    assert "groupby('month'" in analysis.code
    assert "measure = 'revenue'" in analysis.code


def test_the_chart_is_a_png_with_one_bar_per_group() -> None:
    analysis = code_interpreter.analyse("s.csv", "/p", SALES.read_bytes(), "plot units by month")
    assert analysis.chart is not None
    assert analysis.chart.startswith(png.SIGNATURE)
    width, height, raw = _pixels(analysis.chart)
    assert (width, height) == (png.WIDTH, png.HEIGHT)
    # One row above the x axis: bars (non-white runs) alternate colours, one per month.
    stride = 1 + 3 * width
    row = raw[(height - 30) * stride + 1 : (height - 29) * stride]
    colours = [bytes(row[x * 3 : x * 3 + 3]) for x in range(30, width - 24)]
    runs = [c for i, c in enumerate(colours) if c != b"\xff\xff\xff" and colours[i - 1] != c]
    assert len(runs) == 6
    assert "measure = 'units'" in analysis.code


def test_without_a_month_column_it_groups_by_the_first_text_column() -> None:
    data = b"region,units\nnorth,3\nsouth,4\nnorth,5\n"
    analysis = code_interpreter.analyse("r.csv", "/p", data, "total units")
    assert analysis.summary == b"region,units\nnorth,8\nsouth,4\n"


def test_with_only_numbers_it_totals_each_column() -> None:
    analysis = code_interpreter.analyse("n.csv", "/p", b"a,b\n1,2.5\n3,4\n", "sum it")
    assert analysis.summary == b",total\na,4\nb,6.5\n"
    assert analysis.chart is not None


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (png.bar_chart([1.0]), "cannot parse f.csv as CSV: UnicodeDecodeError"),
        (b"a,b\n1,2\x00\n", "cannot parse f.csv as CSV: ParserError: line contains NUL"),
        (b"a,b\n1,2,3\n", "Expected 2 fields in line 2, saw 3"),
        (b"", "cannot parse f.csv as CSV: EmptyDataError"),
        (b"month,units\n", "rows: 0, columns: 2 (month, units)\nno rows: nothing to sum"),
        (b"x,y\nfoo,bar\n", "no numeric columns: nothing to sum or chart"),
    ],
)
def test_what_cannot_be_charted_is_said_in_the_logs(data: bytes, said: str) -> None:
    analysis = code_interpreter.analyse("f.csv", "/p", data, "chart it")
    assert said in analysis.logs
    assert analysis.chart is None
    assert analysis.summary is None
    assert "nothing to chart" in analysis.answer


@pytest.mark.parametrize(
    ("text", "wanted"),
    [
        ("Chart the totals by month", True),
        ("please analyse this", True),
        ("analyze it", True),
        ("what is the sum?", True),
        ("plot revenue", True),
        ("hello there", False),
        ("summary please", False),
    ],
)
def test_trigger_words(text: str, wanted: bool) -> None:
    assert code_interpreter.wanted(text) is wanted
