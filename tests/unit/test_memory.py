"""The worker process caps glibc's malloc arenas and fixes its mmap threshold, unless its
operator chose them."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CAP = "from workers.memory import limit_malloc_arenas; print(limit_malloc_arenas())"
FIX = "from workers.memory import fix_mmap_threshold; print(fix_mmap_threshold())"
MAPPED_AFTER_A_LARGER_FREE = """
import sys
from tests.unit.mallinfo import LIBC, mallinfo
from workers.memory import fix_mmap_threshold
if sys.argv[1] == "fixed":
    assert fix_mmap_threshold()
LIBC.free(LIBC.malloc(4 << 20))
mapped = mallinfo().hblkhd
block = LIBC.malloc(1 << 20)
print(mallinfo().hblkhd - mapped >= 1 << 20)
"""


def python(code: str, *args: str, env: dict[str, str] | None = None) -> str:
    command = [sys.executable, "-c", code, *args]
    done = subprocess.run(command, env=env, capture_output=True, check=True)
    return done.stdout.decode().strip()


def without(*variables: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in variables}


def test_the_worker_caps_malloc_arenas_on_glibc() -> None:
    assert python(CAP, env=without("MALLOC_ARENA_MAX")) == "True"


@pytest.mark.parametrize("arenas", ["1", "16"])
def test_an_operators_malloc_arena_max_is_left_alone(arenas: str) -> None:
    assert python(CAP, env={**os.environ, "MALLOC_ARENA_MAX": arenas}) == "False"


def test_with_a_fixed_threshold_a_block_is_mapped_after_a_larger_one_was_freed() -> None:
    env = without("MALLOC_MMAP_THRESHOLD_")
    assert python(MAPPED_AFTER_A_LARGER_FREE, "fixed", env=env) == "True"


def test_glibc_alone_serves_it_from_the_heap_where_it_stays_once_freed() -> None:
    env = without("MALLOC_MMAP_THRESHOLD_")
    assert python(MAPPED_AFTER_A_LARGER_FREE, "dynamic", env=env) == "False"


def test_an_operators_mmap_threshold_is_left_alone() -> None:
    assert python(FIX, env={**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}) == "False"
