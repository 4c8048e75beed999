"""Refusing to start on a port something else already holds."""

from __future__ import annotations

import socket

from workers.settings import SettingsError


def ensure_port_free(host: str, port: int, option: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            raise SettingsError(f"port {port} ({option}) is already in use on {host}") from None
