"""`ensure_port_free`: connections a stopped server left in TIME_WAIT do not hold its port; a
listener does."""

from __future__ import annotations

import socket

import pytest

from emulator.server import listening_socket
from workers.ports import ensure_port_free
from workers.settings import SettingsError

HOST = "127.0.0.1"


@pytest.fixture
def port_left_in_time_wait() -> int:
    """A port whose server closed a connection first and then stopped listening: the
    server's end of that connection stays in TIME_WAIT (about a minute on Linux)."""
    with socket.create_server((HOST, 0)) as listener:
        port: int = listener.getsockname()[1]
        with socket.create_connection((HOST, port)) as client:
            accepted, _ = listener.accept()
            accepted.close()  # the server's side closes first
            assert client.recv(1) == b""
    return port


def test_a_port_held_only_by_time_wait_is_free(port_left_in_time_wait: int) -> None:
    plain = socket.socket()
    with plain, pytest.raises(OSError, match="Address already in use"):
        plain.bind((HOST, port_left_in_time_wait))  # what the check did before
    ensure_port_free(HOST, port_left_in_time_wait, "--port")
    listening_socket(HOST, port_left_in_time_wait).close()  # and the emulator binds it


def test_a_port_another_server_listens_on_is_refused() -> None:
    with socket.create_server((HOST, 0)) as listener:
        port = listener.getsockname()[1]
        with pytest.raises(SettingsError, match=rf"port {port} \(--ui-port\) is already in use"):
            ensure_port_free(HOST, port, "--ui-port")
