"""`durable-assistants tools list|schema`: what an assistant definition should contain."""

import json
import subprocess
import sys
from pathlib import Path

CLI = str(Path(sys.executable).parent / "durable-assistants")


def cli(
    *args: str, tools: str = "activities.example_tools", columns: int = 200
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args],
        env={"PATH": "/usr/bin:/bin", "COLUMNS": str(columns), "TOOLS_MODULES": tools},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_tools_list_shows_each_tool_and_its_activity() -> None:
    result = cli("tools", "list")
    assert result.returncode == 0, result.stderr
    for name in ("get_weather", "calculate", "get_order_status"):
        assert f"tool.{name}" in result.stdout


def test_tools_list_cuts_no_name_on_a_narrow_terminal() -> None:
    result = cli("tools", "list", columns=40)
    assert result.returncode == 0, result.stderr
    for name in ("get_weather", "calculate", "get_order_status"):
        assert f"│ {name} " in result.stdout
        assert f"│ tool.{name} " in result.stdout


def test_tools_list_says_when_no_module_is_named() -> None:
    result = cli("tools", "list", tools="")
    assert result.returncode == 0, result.stderr
    assert "no tools registered: name your tool modules in TOOLS_MODULES" in result.stderr


def test_tools_schema_prints_assistant_and_response_tool_arrays() -> None:
    assistants = json.loads(cli("tools", "schema").stdout)
    weather = next(t for t in assistants if t["function"]["name"] == "get_weather")
    assert weather["type"] == "function"
    assert weather["function"]["parameters"]["required"] == ["city"]
    assert weather["function"]["description"] == "Current weather in a city."
    responses = json.loads(cli("tools", "schema", "--backend", "responses").stdout)
    assert {t["name"] for t in responses} == {t["function"]["name"] for t in assistants}
