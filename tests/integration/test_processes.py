"""The processes users start: `dev --demo` (the whole stack, offline) and `worker`, each
stopped cleanly by a signal."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

import httpx2 as httpx

from emulator.server import BackgroundEmulator
from tests.integration.conftest import API_KEY

CLI = str(Path(sys.executable).parent / "durable-assistants")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def read_until(
    process: subprocess.Popen[str], stream: IO[str] | None, marker: str, timeout: float
) -> str:
    """Lines of a process's stream up to the one containing `marker`; the process is killed
    if the marker has not appeared within `timeout`, so a hang fails instead of blocking."""
    assert stream is not None
    seen = []
    watchdog = threading.Timer(timeout, process.kill)
    watchdog.start()
    try:
        for line in stream:
            seen.append(line)
            if marker in line:
                return "".join(seen)
    finally:
        watchdog.cancel()
    raise AssertionError(f"{marker!r} never appeared in:\n{''.join(seen)}")


def test_dev_demo_answers_with_tools_serves_the_ui_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    ui_port = free_port()
    env = {"PATH": os.environ["PATH"], "LOG_FORMAT": "json"}
    process = subprocess.Popen(
        [
            CLI,
            "dev",
            "--demo",
            "--port",
            str(free_port()),
            "--ui-port",
            str(ui_port),
            "--emulator-port",
            str(free_port()),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        output = read_until(process, process.stdout, "calculate returned 126", timeout=90)
        assert "get_weather returned" in output
        assert httpx.get(f"http://127.0.0.1:{ui_port}/", timeout=10).status_code == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    finally:
        process.kill()
        process.wait()
    assert (tmp_path / "data" / "temporal.sqlite").exists()


def test_worker_starts_and_exits_zero_on_sigterm(
    temporal_address: str, api: BackgroundEmulator, tmp_path: Path
) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "TEMPORAL_ADDRESS": temporal_address,
        "TEMPORAL_TASK_QUEUE": f"sigterm-{os.getpid()}",
        "OPENAI_BASE_URL": api.base_url,
        "OPENAI_API_KEY": API_KEY,
        "LOG_FORMAT": "json",
    }
    process = subprocess.Popen(
        [CLI, "worker"], env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True
    )
    try:
        read_until(process, process.stderr, "worker started", timeout=60)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        process.kill()
        process.wait()
