"""Bad settings end the CLI with one clear line and exit code 2, never a traceback."""

import subprocess
import sys
from pathlib import Path

import pytest

CLI = str(Path(sys.executable).parent / "durable-assistants")


def _run_worker(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, "worker"],
        env={"PATH": "/usr/bin:/bin", "OPENAI_API_KEY": "sk-test", **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"TEMPORAL_ADDRESS": "127.0.0.1:1"}, "cannot reach Temporal at 127.0.0.1:1"),
        ({"TEMPORAL_ADDRESS": "no-port-here"}, "TEMPORAL_ADDRESS: "),
        ({"OPENAI_BACKEND": "chat"}, "OPENAI_BACKEND: "),
    ],
    ids=["unreachable", "malformed-address", "unknown-backend"],
)
def test_bad_setting_is_one_line_and_exit_code_2(
    env: dict[str, str], expected: str, tmp_path: Path
) -> None:
    result = _run_worker(env, tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert expected in lines[0]


def test_unimportable_tools_module_is_one_line_naming_the_setting(tmp_path: Path) -> None:
    result = _run_worker({"TOOLS_MODULES": "activities.example_tools,nowhere.tools"}, tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        "error: TOOLS_MODULES: cannot import 'nowhere.tools': No module named 'nowhere'"
    )


def test_missing_openai_key_is_one_line_naming_it(tmp_path: Path) -> None:
    result = _run_worker({"OPENAI_API_KEY": ""}, tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: OPENAI_API_KEY: not set")
