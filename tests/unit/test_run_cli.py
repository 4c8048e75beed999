"""What `durable-assistants run` prints: tool outputs and errors exactly as they are."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from workers.run_cli import print_result
from workflows.contracts import RunResult, ToolCallResult


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
