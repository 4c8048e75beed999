"""The code interpreter tool, emulated: what the model's Python would print and write when a
message asks to compute or chart something over a CSV file. No HTTP and no store here.

The model writes pandas-like code that reads the file, sums its numeric columns, groups them by
a `month` column (else the first text column), writes the totals to `/mnt/data/summary.csv` and
plots one of them as a bar chart to `/mnt/data/chart.png`. The emulator does not run that code:
it computes the same things with the csv module from the file's real bytes, so the logs hold the
real row count and sums, and the chart is a real PNG of the real totals (emulator.png).

The charted column is the first numeric column the message names, else the last numeric one.
A file that is not UTF-8 CSV (binary, NUL bytes, ragged rows), an empty file, a file with no
rows or no numeric column: the logs say so and no file is generated.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from emulator import png

TRIGGER = re.compile(
    r"\b(chart|plot|graph|analy[sz]e|analysis|sums?|totals?|compute|calculate)\b", re.IGNORECASE
)
SUMMARY_PATH = "/mnt/data/summary.csv"
CHART_PATH = "/mnt/data/chart.png"


def wanted(text: str) -> bool:
    """Whether the message asks to compute or chart something."""
    return TRIGGER.search(text) is not None


@dataclass(frozen=True)
class Analysis:
    """What one code interpreter call did: the code, what it printed, what it wrote."""

    code: str
    logs: str
    answer: str
    """what the model says about it, before any link to a generated file"""
    chart: bytes | None = None
    summary: bytes | None = None


class _Unparseable(Exception):
    pass


@dataclass(frozen=True)
class _Table:
    columns: list[str]
    rows: list[list[str]]


def analyse(name: str, path: str, data: bytes, message: str) -> Analysis:
    """The code interpreter's call over the file `name` (mounted at `path`) holding `data`."""
    try:
        table = _parse(data)
    except _Unparseable as err:
        logs = f"cannot parse {name} as CSV: {err}\n"
        answer = f"I could not parse {name} as a CSV file ({err}), so there is nothing to chart."
        return Analysis(_code(path, name, None, None), logs, answer)
    group = _group_column(table)
    numeric = [c for c in table.columns if c != group and _is_numeric(table, c)]
    measure = _measure(numeric, message)
    code = _code(path, name, group, measure)
    described = ", ".join(table.columns)
    logs = f"rows: {len(table.rows)}, columns: {len(table.columns)} ({described})\n"
    if not table.rows:
        logs += "no rows: nothing to sum or chart\n"
        return Analysis(code, logs, f"{name} has a header but no rows: there is nothing to chart.")
    if not numeric or measure is None:
        logs += "no numeric columns: nothing to sum or chart\n"
        return Analysis(code, logs, f"{name} has no numeric column: there is nothing to chart.")
    sums = {c: _sum(table, c, None) for c in numeric}
    logs += "column sums:\n" + _aligned([[c, sums[c]] for c in numeric])
    if group is None:
        totals = [[c, sums[c]] for c in numeric]
        summary_rows = [["", "total"], *totals]
        bars = [float(total) for _, total in totals]
        logs += "totals:\n" + _aligned(totals)
    else:
        keys = list(dict.fromkeys(row[table.columns.index(group)] for row in table.rows))
        totals = [[key, *(_sum(table, c, (group, key)) for c in numeric)] for key in keys]
        summary_rows = [[group, *numeric], *totals]
        bars = [float(row[1 + numeric.index(measure)]) for row in totals]
        logs += f"totals by {group}:\n" + _aligned(summary_rows)
    summary = _csv(summary_rows)
    by = f" by {group}" if group else ""
    stated = "; ".join(f"total {c}: {sums[c]}" for c in numeric)
    answer = (
        f"I analysed {name} ({len(table.rows)} rows): {stated}. "
        f"The chart shows {measure}{by}; the totals{by} are in summary.csv."
    )
    return Analysis(code, logs, answer, png.bar_chart(bars), summary)


def _parse(data: bytes) -> _Table:
    """The file as a table, read as pandas would read it (or the reason it cannot be)."""
    if not data.strip():
        raise _Unparseable("EmptyDataError: No columns to parse from file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise _Unparseable(f"UnicodeDecodeError: {err}") from None
    if b"\x00" in data:
        raise _Unparseable("ParserError: line contains NUL")
    try:
        records = [row for row in csv.reader(io.StringIO(text)) if any(f.strip() for f in row)]
    except csv.Error as err:
        raise _Unparseable(f"ParserError: {err}") from None
    columns = [c.strip() for c in records[0]]
    rows = []
    for line, row in enumerate(records[1:], start=2):
        if len(row) > len(columns):
            raise _Unparseable(
                f"ParserError: Error tokenizing data. C error: Expected {len(columns)} fields "
                f"in line {line}, saw {len(row)}"
            )
        rows.append([f.strip() for f in row] + [""] * (len(columns) - len(row)))
    return _Table(columns, rows)


def _is_numeric(table: _Table, column: str) -> bool:
    index = table.columns.index(column)
    values = [row[index] for row in table.rows if row[index]]
    return bool(values) and all(_number(v) is not None for v in values)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _group_column(table: _Table) -> str | None:
    """`month` if the table has it, else its first column that is not numeric."""
    month = next((c for c in table.columns if c.lower() == "month"), None)
    return month or next((c for c in table.columns if not _is_numeric(table, c)), None)


def _measure(numeric: list[str], message: str) -> str | None:
    named = [c for c in numeric if re.search(rf"\b{re.escape(c)}\b", message, re.IGNORECASE)]
    chosen = named or numeric[-1:]
    return chosen[0] if chosen else None


def _sum(table: _Table, column: str, where: tuple[str, str] | None) -> str:
    """The column's sum as pandas prints it: an integer if every value is one."""
    index = table.columns.index(column)
    selected = [
        row[index]
        for row in table.rows
        if row[index] and (where is None or row[table.columns.index(where[0])] == where[1])
    ]
    if all(re.fullmatch(r"-?\d+", v) for v in selected):
        return str(sum(int(v) for v in selected))
    total = round(sum(float(v) for v in selected), 2)
    return f"{total:.2f}".rstrip("0").rstrip(".")


def _aligned(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    return "".join(line.rstrip() + "\n" for line in lines)


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def _code(path: str, name: str, group: str | None, measure: str | None) -> str:
    """The Python the model writes (it peeked at the header to name the columns it needs)."""
    lines = [
        "import pandas as pd",
        "import matplotlib.pyplot as plt",
        "",
        "try:",
        f"    df = pd.read_csv({path!r})",
        "except Exception as err:",
        f'    print(f"cannot parse {name} as CSV: {{type(err).__name__}}: {{err}}")',
        "    raise SystemExit",
        "print(f\"rows: {len(df)}, columns: {len(df.columns)} ({', '.join(df.columns)})\")",
        "if df.empty:",
        '    print("no rows: nothing to sum or chart")',
        "    raise SystemExit",
        'numeric = df.select_dtypes("number").columns.tolist()',
        "if not numeric:",
        '    print("no numeric columns: nothing to sum or chart")',
        "    raise SystemExit",
        'print("column sums:")',
        "print(df[numeric].sum().to_string())",
    ]
    if group is None:
        lines += [
            'totals = df[numeric].sum().to_frame("total")',
            'print("totals:")',
            "print(totals.to_string())",
            f"totals.to_csv({SUMMARY_PATH!r})",
            'totals["total"].plot(kind="bar", title="column totals")',
        ]
    else:
        measure_expr = repr(measure) if measure else "numeric[-1]"
        lines += [
            f"totals = df.groupby({group!r}, sort=False)[numeric].sum()",
            f'print("totals by {group}:")',
            "print(totals.to_string())",
            f"totals.to_csv({SUMMARY_PATH!r})",
            f"measure = {measure_expr}",
            f'totals[measure].plot(kind="bar", title=f"{{measure}} by {group}")',
        ]
    lines += ["plt.tight_layout()", f"plt.savefig({CHART_PATH!r})", "plt.show()"]
    return "\n".join(lines) + "\n"
