"""Refusing to start on a port something else already holds."""

from __future__ import annotations

import socket

from workers.settings import SettingsError


def ensure_port_free(host: str, port: int, option: str) -> None:
    """Fail unless `port` can be listened on. The probe binds as our servers do (with
    SO_REUSEADDR, like uvicorn and the Temporal dev server), so connections left in TIME_WAIT
    by a stack stopped a moment ago do not count, while another listener still does."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
            probe.listen()
        except OSError:
            raise SettingsError(f"port {port} ({option}) is already in use on {host}") from None
