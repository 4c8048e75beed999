"""The worker process's heap: few malloc arenas and a fixed mmap threshold, so its memory
stays flat as work grows.

glibc gives threads that allocate at once their own heap arenas, up to 8 per core. A worker's
threads (the SDK's Rust core, the workflow activation and activity thread pools) each keep
what was freed in their own arena, so RSS climbs with the size of the work even when the
objects are gone: an ingest of 10,000 files peaked 49 MiB above idle, 30 MiB with two arenas
(`benchmarks/results/scale.md`). Python allocates under the GIL, so more arenas buy it
little concurrency.

glibc also raises its mmap threshold to the size of each mapped block freed (up to 32 MiB):
once one large payload has passed through (a 10,000-file ingest's request of 1 MB, copied
on its way through the SDK's protobuf layers), blocks of that size come from the heap instead
and stay in the worker once freed. Kept at 128 KiB (glibc's starting value), every such
block is mapped and given back when freed.
"""

from __future__ import annotations

import ctypes
import os

M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
"""mallopt's parameter numbers (glibc's malloc.h)."""
WORKER_ARENAS = 2
WORKER_MMAP_THRESHOLD = 128 * 1024


def tune_worker_heap() -> None:
    """Both settings, for a process about to run a worker."""
    limit_malloc_arenas()
    fix_mmap_threshold()


def limit_malloc_arenas(arenas: int = WORKER_ARENAS) -> bool:
    """Cap glibc's malloc arenas for the threads this process starts from now on. Leaves
    an operator's `MALLOC_ARENA_MAX` (which glibc reads at start) and other C libraries
    alone; True if the cap was set."""
    return _mallopt("MALLOC_ARENA_MAX", M_ARENA_MAX, arenas)


def fix_mmap_threshold(threshold: int = WORKER_MMAP_THRESHOLD) -> bool:
    """Serve blocks of `threshold` bytes or more by mmap from now on, whatever was freed
    before. Leaves an operator's `MALLOC_MMAP_THRESHOLD_` alone; True if it was set."""
    return _mallopt("MALLOC_MMAP_THRESHOLD_", M_MMAP_THRESHOLD, threshold)


def _mallopt(variable: str, parameter: int, value: int) -> bool:
    if variable in os.environ:
        return False
    process = ctypes.CDLL(None)  # the symbols of the process: its C library's among them
    if not hasattr(process, "gnu_get_libc_version"):
        return False
    return bool(process.mallopt(parameter, value))
