"""Serving the emulator: standalone (the CLI) or on a background thread (tests, benchmarks)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from types import TracebackType

import uvicorn

from emulator.app import create_app, emulator_of
from emulator.config import EmulatorConfig
from emulator.state import Emulator

STARTUP_TIMEOUT_SECONDS = 10.0


def serve(host: str, port: int, config: EmulatorConfig, state_file: Path | None = None) -> None:
    """Serve until SIGINT or SIGTERM (blocking); the state file is saved on the way out."""
    app = create_app(config, state_file=state_file)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    with listening_socket(host, port) as bound:
        server.run(sockets=[bound])


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound with SO_REUSEADDR: a restart need not wait for the connections the last
    server closed to leave TIME_WAIT."""
    bound = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    bound.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        bound.bind((host, port))
    except OSError:
        bound.close()
        raise
    return bound


class BackgroundEmulator:
    """The emulator on a loopback port, served by a thread with its own event loop, so it is
    a real HTTP server independent of the caller's loop."""

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        state_file: Path | None = None,
    ) -> None:
        self._app = create_app(config, state_file=state_file)
        self._socket = listening_socket(host, port)
        self.host = host
        self.port: int = self._socket.getsockname()[1]
        self._server = uvicorn.Server(
            uvicorn.Config(
                self._app,
                log_level="warning",
                access_log=False,
                loop="asyncio",
                timeout_graceful_shutdown=1,
            )
        )
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def admin_url(self) -> str:
        return f"http://{self.host}:{self.port}/_emulator"

    @property
    def emulator(self) -> Emulator:
        return emulator_of(self._app)

    def start(self) -> BackgroundEmulator:
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the emulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=STARTUP_TIMEOUT_SECONDS)
        self._socket.close()

    def __enter__(self) -> BackgroundEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
