"""The worker process's heap: few malloc arenas, so its memory stays flat as work grows.

glibc gives threads that allocate at once their own heap arenas, up to 8 per core. A worker's
threads (the SDK's Rust core, the workflow activation and activity thread pools) each keep
what was freed in their own arena, so RSS climbs with the size of the work even when the
objects are gone: an ingest of 10,000 files peaked 49 MiB above idle, 30 MiB with two arenas
(`benchmarks/results/scale.md`). Python allocates under the GIL, so more arenas buy it
little concurrency.
"""

from __future__ import annotations

import ctypes
import os

M_ARENA_MAX = -8
"""mallopt's parameter number for the arena limit (glibc's malloc.h)."""
WORKER_ARENAS = 2


def limit_malloc_arenas(arenas: int = WORKER_ARENAS) -> bool:
    """Cap glibc's malloc arenas for the threads this process starts from now on. Leaves
    an operator's `MALLOC_ARENA_MAX` (which glibc reads at start) and other C libraries
    alone; True if the cap was set."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    process = ctypes.CDLL(None)  # the symbols of the process: its C library's among them
    if not hasattr(process, "gnu_get_libc_version"):
        return False
    return bool(process.mallopt(M_ARENA_MAX, arenas))
