"""Reusable host buffers for the large outputs of the CPU kernels (a small caching allocator).

torch has no caching allocator on CPU: every ``(T, B, N)`` output of a training step is a fresh
``mmap`` that the kernel then faults in and the OS zero-fills page by page. For a fused neuron op
that moves 24 bytes per neuron-step this first touch costs more than the kernel itself (on a
2-core VM, 2-5x the kernel time). Training calls the same shapes every step, so the CPU kernels
take their outputs from this pool instead: a buffer handed out comes back to the pool when the
last tensor viewing it is freed (a ``weakref.finalize`` on the numpy array that the tensor's
storage holds), and the next request of the same byte size reuses it, already resident.

Only blocks of at least :data:`MIN_BYTES` (64 KiB) in float32 or float64 are pooled. Free
blocks are held up to a limit (least recently returned dropped first): ``SNNLAB_CPU_POOL_MB``
(default: a quarter of physical memory, at most 4096 MB); ``SNNLAB_CPU_POOL_MB=0`` turns pooling
off. Tensors handed out are ordinary CPU tensors except that their storage cannot be resized in
place (``Tensor.resize_`` to a larger size raises). :func:`clear` releases the free blocks.
"""

from __future__ import annotations

import collections
import os
import threading
import warnings
import weakref
from typing import Optional

import numpy as np
import torch

MIN_BYTES = 64 << 10  # glibc maps blocks from 128 KiB (its default threshold) freshly from the OS
_PAGE = 4096
_ALIGN = 64  # bytes: blocks start on a cache line
_NP = {torch.float32: np.float32, torch.float64: np.float64}


def _default_limit() -> int:
    raw = os.environ.get("SNNLAB_CPU_POOL_MB")
    if raw is not None:
        try:
            mb = float(raw)
        except ValueError:
            mb = -1.0
        if mb >= 0:
            return int(mb * 2**20)
        warnings.warn(
            f"SNNLAB_CPU_POOL_MB must be a number of megabytes >= 0 (0 disables pooling), got {raw!r}; "
            "using the default",
            stacklevel=2,
        )
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        physical = 16 * 2**30
    return int(min(physical // 4, 4096 * 2**20))


class BufferPool:
    """Free host blocks keyed by byte size; see the module docstring."""

    def __init__(self, limit_bytes: Optional[int] = None) -> None:
        self.limit = _default_limit() if limit_bytes is None else int(limit_bytes)
        self._lock = threading.Lock()
        self._free: collections.OrderedDict[int, list[np.ndarray]] = collections.OrderedDict()
        self._free_bytes = 0
        self.hits = self.misses = 0

    def empty(self, shape: tuple, dtype: torch.dtype) -> torch.Tensor:
        """An uninitialised CPU tensor of ``shape`` and ``dtype``, from a reused block when one is free."""
        np_dtype = _NP.get(dtype)
        numel = 1
        for n in shape:
            numel *= int(n)
        nbytes = numel * (np.dtype(np_dtype).itemsize if np_dtype is not None else 0)
        if np_dtype is None or nbytes < MIN_BYTES or self.limit <= 0:
            return torch.empty(shape, dtype=dtype)
        raw = self._take(nbytes)
        if raw is None:
            self.misses += 1
            raw = np.empty(nbytes + _ALIGN, dtype=np.uint8)
            raw = raw[-raw.ctypes.data % _ALIGN :][:nbytes]  # on a cache line, as torch's own CPU tensors
            # fault the pages in from this one thread: first touches from several threads at once
            # contend in the kernel and were ~20x slower on a 2-core VM
            raw[::_PAGE] = 0
        else:
            self.hits += 1
        arr = raw.view(np_dtype).reshape(tuple(int(n) for n in shape))
        weakref.finalize(arr, self._give_back, raw).atexit = False
        return torch.from_numpy(arr)

    def _take(self, nbytes: int) -> Optional[np.ndarray]:
        with self._lock:
            blocks = self._free.get(nbytes)
            if not blocks:
                return None
            raw = blocks.pop()
            if not blocks:
                del self._free[nbytes]
            self._free_bytes -= nbytes
            return raw

    def _give_back(self, raw: np.ndarray) -> None:
        nbytes = raw.nbytes
        with self._lock:
            if nbytes > self.limit:
                return
            while self._free_bytes + nbytes > self.limit and self._free:
                size, blocks = next(iter(self._free.items()))  # least recently returned size first
                blocks.pop(0)
                self._free_bytes -= size
                if not blocks:
                    del self._free[size]
            self._free.setdefault(nbytes, []).append(raw)
            self._free.move_to_end(nbytes)
            self._free_bytes += nbytes

    def drop(self, nbytes: int) -> None:
        """Release the free blocks of one byte size (for a caller that will not ask for it again)."""
        with self._lock:
            blocks = self._free.pop(nbytes, [])
            self._free_bytes -= nbytes * len(blocks)

    def clear(self) -> None:
        """Drop every free block (memory in use stays with its tensors)."""
        with self._lock:
            self._free.clear()
            self._free_bytes = 0

    def stats(self) -> dict:
        """``{"free_bytes", "free_blocks", "hits", "misses", "limit_bytes"}``."""
        with self._lock:
            blocks = sum(len(b) for b in self._free.values())
            return {
                "free_bytes": self._free_bytes,
                "free_blocks": blocks,
                "hits": self.hits,
                "misses": self.misses,
                "limit_bytes": self.limit,
            }


POOL = BufferPool()


def empty(shape: tuple, dtype: torch.dtype, device: Optional[torch.device] = None) -> torch.Tensor:
    """``torch.empty(shape, dtype, device)``, from :data:`POOL` for large float CPU tensors."""
    if (device is not None and torch.device(device).type != "cpu") or torch.compiler.is_compiling():
        return torch.empty(shape, dtype=dtype, device=device)
    return POOL.empty(shape, dtype)


def full(shape: tuple, value: float, dtype: torch.dtype, device: Optional[torch.device] = None) -> torch.Tensor:
    """``torch.full(shape, value, dtype, device)``, from :data:`POOL` for large float CPU tensors."""
    return empty(shape, dtype, device).fill_(value)


_ZEROS: collections.OrderedDict[tuple, torch.Tensor] = collections.OrderedDict()
_ZEROS_KEPT = 32  # shapes of read-only zeros kept (least recently used dropped)


def zeros(shape: tuple, dtype: torch.dtype, device: Optional[torch.device] = None) -> torch.Tensor:
    """A **read-only** zero tensor, shared between calls (large CPU float tensors are filled once).

    For inputs that a kernel only reads (a neuron's resting state, an absent final-state gradient):
    a training step then fills no fresh zeros per layer and call. Never write into it.
    """
    key = (tuple(int(n) for n in shape), dtype)
    if (device is not None and torch.device(device).type != "cpu") or torch.compiler.is_compiling():
        return torch.zeros(shape, dtype=dtype, device=device)
    numel = 1
    for n in key[0]:
        numel *= n
    if dtype not in _NP or numel * torch.finfo(dtype).bits // 8 < MIN_BYTES:
        return torch.zeros(shape, dtype=dtype)
    with POOL._lock:
        z = _ZEROS.pop(key, None)
        if z is None:
            z = torch.zeros(shape, dtype=dtype)
        _ZEROS[key] = z
        while len(_ZEROS) > _ZEROS_KEPT:
            _ZEROS.popitem(last=False)
    return z


def clear() -> None:
    """Release the pool's free blocks (and its shared zeros) to the OS."""
    POOL.clear()
    with POOL._lock:
        _ZEROS.clear()


def stats() -> dict:
    return POOL.stats()
