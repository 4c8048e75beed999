"""README.md's examples run as written: every command block marked `runs as written`, in
order, against a live stack on the default (responses) backend, as a newcomer types them."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from temporalio.client import Client

from tests.integration.conftest import REPO_ROOT, cli_env
from workers.settings import Settings
from workers.worker import build_worker

MARKED = re.compile(r"<!-- runs as written: [^>]*-->\n```bash\n(.*?)```", re.S)
MAY_FIND_IT_ENDED = re.compile(r"^durable-assistants cancel ")


def readme_commands() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text()
    blocks = [block.replace("\\\n", " ") for block in MARKED.findall(text)]
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def test_the_readme_marks_its_runnable_examples() -> None:
    commands = readme_commands()
    assert len(commands) >= 12
    assert any(c.startswith("temporal workflow start-update-with-start") for c in commands)


@pytest.mark.parametrize("backend", ["responses"], indirect=True)
async def test_every_marked_readme_command_runs_as_written(
    settings: Settings, client: Client, temporal_address: str
) -> None:
    settings = settings.model_copy(update={"temporal_task_queue": "durable-assistants"})
    env = {
        **cli_env(settings),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "TEMPORAL_ADDRESS": temporal_address,
    }
    charts = REPO_ROOT / "charts"  # where the code interpreter example downloads to
    try:
        async with build_worker(client, settings):  # on the README's task queue
            for command in readme_commands():
                await run_as_written(command, env)
        assert sorted(p.suffix for p in charts.iterdir()) == [".csv", ".png"]
    finally:
        shutil.rmtree(charts, ignore_errors=True)


async def run_as_written(command: str, env: dict[str, str]) -> None:
    ran = await asyncio.to_thread(
        subprocess.run,
        ["bash", "-c", command],
        env=env,
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    said = f"{command}\n{ran.stdout}\n{ran.stderr}"
    assert "Traceback" not in ran.stderr, said
    if MAY_FIND_IT_ENDED.match(command) and ran.returncode == 1:
        assert "has already ended (completed)" in ran.stderr, said
    else:
        assert ran.returncode == 0, said
