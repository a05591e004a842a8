"""glibc's allocator settings for a training process: keep freed heap memory for the next step.

A training step allocates and frees the same large tensors (activations, gradients, kernel
buffers) every step. With glibc's default, dynamic settings the top of the heap is returned to the
system (``brk`` shrinks) whenever more than about twice the current mmap threshold is free there,
and the next step grows it again: every page of it is faulted in and zero-filled anew. On the
reduced Max-Former step (benchmarks/README.md, Max-Former) that was 5,000-8,000 minor faults per
step (20-31 MB) and about 10 % of the step.

:func:`keep_freed_memory` fixes the two thresholds (``mallopt``): blocks up to 32 MiB (glibc's own
upper limit for the dynamic threshold) come from the heap, and the heap's top is returned only
when more than 256 MiB of it is free. Blocks above 32 MiB are mapped and unmapped as before, so a
peak of large tensors is still given back. Linux with glibc only; elsewhere it does nothing.

The trainers call it when they start (``SNNLAB_KEEP_FREED_MEMORY=0`` turns it off); it changes the
process, not the arithmetic: results are bit-identical either way.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from collections.abc import Mapping
from typing import Optional

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's DEFAULT_MMAP_THRESHOLD_MAX on 64-bit: the dynamic threshold's ceiling
TRIM_THRESHOLD = 256 << 20
ENV = "SNNLAB_KEEP_FREED_MEMORY"

_applied = False


def enabled(environ: Optional[Mapping[str, str]] = None) -> bool:
    """Whether the setting is wanted: ``SNNLAB_KEEP_FREED_MEMORY`` unset or not ``0``."""
    env = os.environ if environ is None else environ
    return env.get(ENV, "1").strip() not in ("0", "false", "no", "off")


def keep_freed_memory() -> bool:
    """Apply the two ``mallopt`` thresholds once per process; returns whether they are in effect.

    False on other platforms or C libraries (nothing is changed) and when the environment turns it off.
    """
    global _applied
    if _applied:
        return True
    if not enabled() or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others: no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _applied = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _applied
