"""The processes users start: `dev --demo` (the whole stack, offline), `dev` restarted at once,
`emulator` and `worker`, each stopped cleanly by a signal."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import httpx2 as httpx
from openai import OpenAI

from emulator.server import BackgroundEmulator
from tests.integration.conftest import API_KEY
from tests.ports import free_port
from workers.settings import DEFAULT_TASK_QUEUE
from workers.temporal_server import temporal_binary

CLI = str(Path(sys.executable).parent / "durable-assistants")


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


def start_dev(data_dir: Path, ports: dict[str, int]) -> subprocess.Popen[str]:
    """`durable-assistants dev` on these ports, up once its worker has started."""
    options = [str(part) for option, port in ports.items() for part in (option, port)]
    process = subprocess.Popen(
        [CLI, "dev", *options, "--data-dir", str(data_dir)],
        env={"PATH": os.environ["PATH"], "LOG_FORMAT": "json"},
        cwd=data_dir.parent,
        stderr=subprocess.PIPE,
        text=True,
    )
    read_until(process, process.stderr, "worker started", timeout=90)
    return process


def interrupt(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGINT)
    return process.wait(timeout=60)


def held_without_reuse(port: int) -> bool:
    """Whether a plain bind (no SO_REUSEADDR) is refused: the port has a connection in
    TIME_WAIT (or closing) though nothing listens on it."""
    with socket.socket() as plain:
        try:
            plain.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


def test_dev_restarted_right_after_ctrl_c_comes_up_on_the_same_ports_and_keeps_emulator_objects(
    tmp_path: Path,
) -> None:
    ports = {"--port": free_port(), "--ui-port": free_port(), "--emulator-port": free_port()}
    emulator_url = f"http://127.0.0.1:{ports['--emulator-port']}/v1"
    first = start_dev(tmp_path / "data", ports)
    try:
        # A browser on the UI and an SDK client keep their connections open, so the servers
        # close them when the stack stops: their ports are left in TIME_WAIT.
        with httpx.Client() as browser, OpenAI(base_url=emulator_url, api_key="sk-x") as sdk:
            assert browser.get(f"http://127.0.0.1:{ports['--ui-port']}/").status_code == 200
            assistant = sdk.beta.assistants.create(model="gpt-4o", name="remember me")
            assert interrupt(first) == 0
    finally:
        first.kill()
        first.wait()
    assert held_without_reuse(ports["--ui-port"])
    assert held_without_reuse(ports["--emulator-port"])
    second = start_dev(tmp_path / "data", ports)
    try:
        with OpenAI(base_url=emulator_url, api_key="sk-x") as sdk:
            assert sdk.beta.assistants.retrieve(assistant.id).name == "remember me"
        assert interrupt(second) == 0
    finally:
        second.kill()
        second.wait()
    assert (tmp_path / "data" / "emulator.pickle").exists()


def test_dev_with_an_unreadable_emulator_state_file_says_so_and_exits_2(tmp_path: Path) -> None:
    state_file = tmp_path / "data" / "emulator.pickle"
    state_file.parent.mkdir()
    state_file.write_text("not a pickle")
    ports = [("--port", free_port()), ("--ui-port", free_port()), ("--emulator-port", free_port())]
    stopped = subprocess.run(
        [CLI, "dev", *[str(part) for pair in ports for part in pair], "--data-dir", "data"],
        env={"PATH": os.environ["PATH"], "LOG_FORMAT": "json"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert stopped.returncode == 2, stopped.stderr
    last = stopped.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {Path('data/emulator.pickle')} does not hold emulator state")
    assert last.endswith(": delete it to start the emulator afresh")


def start_emulator(port: int, state_file: Path) -> subprocess.Popen[str]:
    """`durable-assistants emulator`, once it answers on `port`."""
    args = [CLI, "emulator", "--port", str(port), "--state-file", str(state_file)]
    process = subprocess.Popen(args, env={"PATH": os.environ["PATH"]}, text=True)
    deadline = time.monotonic() + 30
    while process.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/_emulator/health").raise_for_status()
            return process
        time.sleep(0.05)
    process.kill()
    raise AssertionError(f"the emulator never answered (exit code {process.wait()})")


def test_emulator_restarted_right_after_sigterm_comes_up_on_its_port_with_its_state(
    tmp_path: Path,
) -> None:
    port, state_file = free_port(), tmp_path / "emulator.state"
    first = start_emulator(port, state_file)
    try:
        with OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-x") as sdk:
            assistant = sdk.beta.assistants.create(model="gpt-4o", name="remember me")
            first.send_signal(signal.SIGTERM)
            first.wait(timeout=30)  # uvicorn ends by the signal, once the state is saved
    finally:
        first.kill()
        first.wait()
    assert held_without_reuse(port)
    second = start_emulator(port, state_file)
    try:
        with OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-x") as sdk:
            assert sdk.beta.assistants.retrieve(assistant.id).name == "remember me"
    finally:
        second.kill()
        second.wait()


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


def start_temporal(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A Temporal dev server of the test's own (the session's must not go away), once it is
    healthy, and its address."""
    port = str(free_port())
    address = f"127.0.0.1:{port}"
    temporal = str(temporal_binary())
    options = ["--ip", "127.0.0.1", "--port", port, "--headless", "--log-level", "error"]
    database = ["--db-filename", str(data_dir / "temporal.sqlite")]
    server = subprocess.Popen(
        [temporal, "server", "start-dev", *options, *database],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    health = [temporal, "operator", "cluster", "health", "--address", address]
    deadline = time.monotonic() + 60
    while subprocess.run(health, capture_output=True).returncode != 0:
        assert server.poll() is None, "the Temporal dev server exited"
        assert time.monotonic() < deadline, "the Temporal dev server never became healthy"
        time.sleep(0.2)
    return server, address


def wait_until_polled(address: str, task_queue: str) -> None:
    """Until a worker polls `task_queue` (its "worker started" comes before it validates)."""
    describe = [str(temporal_binary()), "task-queue", "describe", "--legacy-mode", "-o", "json"]
    describe += ["--address", address, "--task-queue", task_queue]
    deadline = time.monotonic() + 60
    while not json.loads(subprocess.run(describe, capture_output=True).stdout)["pollers"]:
        assert time.monotonic() < deadline, f"no worker ever polled {task_queue}"
        time.sleep(0.1)


def test_a_worker_whose_temporal_server_dies_logs_the_sdk_cores_warnings_as_json(
    api: BackgroundEmulator, tmp_path: Path
) -> None:
    server, address = start_temporal(tmp_path)
    env = {
        "PATH": os.environ["PATH"],
        "TEMPORAL_ADDRESS": address,
        "OPENAI_BASE_URL": api.base_url,
        "OPENAI_API_KEY": API_KEY,
        "LOG_FORMAT": "json",
    }
    worker = subprocess.Popen(
        [CLI, "worker"], env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True
    )
    try:
        output = read_until(worker, worker.stderr, "worker started", timeout=60)
        wait_until_polled(address, DEFAULT_TASK_QUEUE)
        server.kill()  # the core's pollers now warn that their calls fail
        output += read_until(worker, worker.stderr, '"logger": "temporalio.core', timeout=60)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0
        assert worker.stderr is not None
        output += worker.stderr.read()
    finally:
        for process in (worker, server):
            process.kill()
            process.wait()
    assert "\x1b[" not in output
    events = [json.loads(line) for line in output.splitlines()]
    core = [e for e in events if e["logger"].startswith("temporalio.core")]
    assert core[0]["level"] == "warning", core[0]
