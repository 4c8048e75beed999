"""A hand-moved clock for the emulator's lazily advanced engines."""

from __future__ import annotations

import pytest

START = 1_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()
