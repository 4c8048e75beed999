"""The upgrade drill, small: a v2 rolled out under live runs and conversations loses nothing,
fails no workflow task, and keeps each run on the version it started on."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from tests.integration.conftest import REPO_ROOT

SMALL = ("--runs", "3", "--conversations", "2")


async def test_the_upgrade_drill_passes(tmp_path: Path) -> None:
    table = tmp_path / "drill.md"
    drill = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "tests.upgrade.drill", *SMALL, "--results", str(table)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert drill.returncode == 0, drill.stdout + drill.stderr
    rows = table.read_text().splitlines()[2:]
    assert [row.split(" | ")[0] for row in rows] == [
        "| runs started on v1",
        "| runs started on v2",
        "| conversations",
    ]
    assert rows[0] == "| runs started on v1 | 3 | 3 | 3 | 3 | 0 |"
