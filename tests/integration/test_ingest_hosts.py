"""Ingest when the caller and the workers do not share a filesystem (a laptop and two worker
replicas): each worker runs in a mount namespace of its own, where the caller's folder is an
empty tmpfs, as on another host."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import REPO_ROOT, WORKER_CLI, Counters, cli_env, run_cli
from workers.settings import Settings


@pytest.fixture
def workers_elsewhere(settings: Settings, temporal_address: str, tmp_path: Path) -> Iterator[Path]:
    """A folder only this process can read, and two workers that see it empty."""
    folder = tmp_path / "only-here"
    folder.mkdir()
    (folder / "visible-here.txt").write_text("only this process sees me")
    elsewhere = ["unshare", "--mount", "--propagation", "private", "sh", "-c"]
    hidden = f"mount -t tmpfs none {folder} && ls -A {folder}"
    seen = subprocess.run([*elsewhere, hidden], capture_output=True, text=True, check=True)
    assert seen.stdout == ""  # what a worker sees of the folder
    (folder / "visible-here.txt").unlink()
    hide = f"mount -t tmpfs none {folder} && exec {WORKER_CLI} worker"
    env = {**cli_env(settings), "TEMPORAL_ADDRESS": temporal_address, "LOG_FORMAT": "json"}
    workers = [
        subprocess.Popen(
            [*elsewhere, hide],
            env=env,
            cwd=REPO_ROOT,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    yield folder
    for worker in workers:
        worker.kill()
        worker.wait()


async def test_the_cli_ingests_files_only_it_can_read_through_workers_elsewhere(
    settings: Settings, workers_elsewhere: Path, counters: Counters
) -> None:
    paths = []
    for n in range(6):
        path = workers_elsewhere / f"note{n}.md"
        path.write_text(f"Note {n}: the launch code is omega{n}.")
        paths.append(str(path))
    result = await run_cli(settings, "ingest", "elsewhere", *paths, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [f["status"] for f in report["files"]] == ["completed"] * 6
    assert report["file_counts"]["completed"] >= 6
    assert [f["source"] for f in report["files"]] == paths
    assert counters.delta("files_created") == 6
    again = await run_cli(settings, "ingest", "elsewhere", *paths, "--json")
    assert again.returncode == 0, again.stderr
    assert counters.delta("files_created") == 6  # the same content is never uploaded twice
