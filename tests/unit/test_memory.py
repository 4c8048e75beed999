"""The worker process caps glibc's malloc arenas unless its operator chose a number."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CAP = "from workers.memory import limit_malloc_arenas; print(limit_malloc_arenas())"


def capped(env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-c", CAP], env=env, capture_output=True, check=True)
    return done.stdout.decode().strip()


def test_the_worker_caps_malloc_arenas_on_glibc() -> None:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    assert capped(env) == "True"


@pytest.mark.parametrize("arenas", ["1", "16"])
def test_an_operators_malloc_arena_max_is_left_alone(arenas: str) -> None:
    assert capped({**os.environ, "MALLOC_ARENA_MAX": arenas}) == "False"
