"""The app's memory, bounded: what a call freed goes back to the system.

Measured with ``python -m tests.benchmarks.app_soak 6`` (four ``/extract`` calls on the largest
inputs and one 512 px run at once, repeated): without these, resident memory rose with every
round (4.7 GiB after five, 3.9 GiB idle); with them it levels off from the second round.
Three things held memory after a call:

* glibc gives every worker thread an arena of its own (8 per core), and after the first
  large free it raises the size above which a buffer is mapped on its own to 32 MB, so
  decoded images and activations come from the arenas, where they fragment and stay.
* Freed pages at the top of an arena stay until ``malloc_trim``.
* ONNX Runtime's CPU arena keeps the peak of the largest concurrent ``/extract`` calls for good.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
from typing import Any

#: glibc's mallopt parameters (malloc.h).
M_MMAP_THRESHOLD, M_ARENA_MAX = -3, -8
#: Buffers from this size up are their own mappings, returned to the system when freed.
MMAP_FROM_BYTES = 2**20


@functools.cache
def _libc() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    # not glibc (musl, macOS): its allocator's own policy holds
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def bound_allocator() -> None:
    """Few arenas, and big buffers as their own mappings (a fixed threshold also stops its adjustment)."""
    libc = _libc()
    if libc is not None:
        libc.mallopt(M_ARENA_MAX, 2)
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_FROM_BYTES)


def give_back_memory() -> None:
    """After a call: collect cycles, then hand the heap's free pages back (``malloc_trim``)."""
    gc.collect()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


def onnx_options() -> Any:
    """ONNX Runtime session options without the CPU memory arena, which keeps every call's peak for good."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.enable_cpu_mem_arena = False
    return options
