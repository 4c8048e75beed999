"""What `durable-assistants run` prints: tool outputs and errors exactly as they are."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from workers.cli.runs import RunOptions, build_request, print_result
from workflows.contracts import CodeInterpreterCall, GeneratedFile, RunResult, ToolCallResult


def test_tool_outputs_with_brackets_are_printed_literally(
    capsys: pytest.CaptureFixture[str],
) -> None:
    stream = io.StringIO()
    result = RunResult(
        status="failed",
        thread_id="t",
        run_id="r",
        assistant_id="a",
        output_text="[b]answer",
        tool_calls=[
            ToolCallResult(
                id="c", name="lookup", arguments='{"ids": [1]}', output='{"items": ["[red]x"]}'
            )
        ],
        last_error={"code": "server_error", "message": "Sorry [1]"},
    )
    print_result(result, as_json=False, console=Console(file=stream, width=200))
    assert stream.getvalue().splitlines() == [
        'tool lookup({"ids": [1]}) -> {"items": ["[red]x"]}',
        "failed: Sorry [1]",
    ]
    assert capsys.readouterr().out == "[b]answer\n"


def test_the_code_it_ran_and_where_each_generated_file_went_are_printed() -> None:
    stream = io.StringIO()
    result = RunResult(
        status="completed",
        thread_id="t",
        run_id="r",
        assistant_id="a",
        code_interpreter_calls=[CodeInterpreterCall(id="ci", code="print(1)", logs="1")],
        files=[
            GeneratedFile(
                file_id="file-1",
                name="chart.png",
                bytes=10,
                mime_type="image/png",
                path="/data/file-1-chart.png",
            ),
            GeneratedFile(file_id="file-2", name="summary.csv", download_error="gone"),
        ],
    )
    print_result(result, as_json=False, console=Console(file=stream, width=200))
    assert stream.getvalue().splitlines() == [
        "code interpreter ran:",
        "print(1)",
        "logs:",
        "1",
        "file chart.png (image/png, 10 bytes) file-1 -> /data/file-1-chart.png",
        "file summary.csv (type unknown, size unknown) file-2 -> not downloaded: gone",
    ]


def test_code_files_are_attached_for_code_interpreter_and_downloads_go_to_an_absolute_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    options = RunOptions(messages=["chart it"], assistant_id="asst_1", download_to=Path("out"))
    request = build_request(options, ["file-doc"], ["file-csv"])
    [message] = request.messages
    assert [(a.file_id, a.tools) for a in message.attachments] == [
        ("file-doc", ["file_search"]),
        ("file-csv", ["code_interpreter"]),
    ]
    assert request.download_to == str(tmp_path / "out")
