"""glibc's own account of the process's heap (`mallinfo2`), for tests of what the worker
keeps allocated."""

from __future__ import annotations

import ctypes

FIELDS = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"


class MallInfo(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in FIELDS.split()]


LIBC = ctypes.CDLL(None)
LIBC.mallinfo2.restype = MallInfo
LIBC.malloc.restype = ctypes.c_void_p
LIBC.free.argtypes = [ctypes.c_void_p]


def mallinfo() -> MallInfo:
    info: MallInfo = LIBC.mallinfo2()
    return info
