"""numba (CPU) passes of ``batch_norm.rows`` (see :mod:`snnlab.kernels.common.batch_norm`).

Rows are split into one block per task; each block sums its rows into its own float64 partial
sums (no shared writes), the partials are added afterwards. The elementwise passes are parallel
over rows and vectorised over channels.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import torch
from numba import njit, prange

from snnlab.kernels import pool
from snnlab.kernels.common.batch_norm import register_batch_norm

ROWS_PER_BLOCK = 512  # rows of one partial-sum task


@njit(parallel=True, fastmath=True, cache=True)
def _stats(x, shift, out):  # pragma: no cover - compiled
    """``out[blk, 0, c] = sum (x - shift)``, ``out[blk, 1, c] = sum (x - shift)^2`` over block ``blk``'s rows."""
    n_rows, n_c = x.shape
    n_blk = out.shape[0]
    per = (n_rows + n_blk - 1) // n_blk
    for blk in prange(n_blk):
        s, q = out[blk, 0], out[blk, 1]
        for m in range(blk * per, min(n_rows, (blk + 1) * per)):
            r = x[m]
            for c in range(n_c):
                v = np.float64(r[c]) - shift[c]
                s[c] += v
                q[c] += v * v


@njit(parallel=True, fastmath=True, cache=True)
def _grad_sums(dy, x, mean, out):  # pragma: no cover - compiled
    """``out[blk, 0, c] = sum dy``, ``out[blk, 1, c] = sum dy (x - mean)`` over block ``blk``'s rows."""
    n_rows, n_c = x.shape
    n_blk = out.shape[0]
    per = (n_rows + n_blk - 1) // n_blk
    for blk in prange(n_blk):
        s, q = out[blk, 0], out[blk, 1]
        for m in range(blk * per, min(n_rows, (blk + 1) * per)):
            g, r = dy[m], x[m]
            for c in range(n_c):
                gv = np.float64(g[c])
                s[c] += gv
                q[c] += gv * np.float64(r[c] - mean[c])


@njit(parallel=True, fastmath=True, cache=True)
def _affine(x, mean, a, b, out):  # pragma: no cover - compiled
    for m in prange(x.shape[0]):
        r, o = x[m], out[m]
        for c in range(x.shape[1]):
            o[c] = (r[c] - mean[c]) * a[c] + b[c]


@njit(parallel=True, fastmath=True, cache=True)
def _grad_input(dy, x, mean, a, b, cc, out):  # pragma: no cover - compiled
    for m in prange(x.shape[0]):
        g, r, o = dy[m], x[m], out[m]
        for c in range(x.shape[1]):
            o[c] = g[c] * a[c] + (r[c] - mean[c]) * b[c] + cc[c]


def _blocks(n_rows: int) -> int:
    return max(1, min(-(-n_rows // ROWS_PER_BLOCK), 4 * numba.get_num_threads()))


def _block_sums(kernel: Any, shape: tuple[int, int], *arrays: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Run a two-sum ``kernel`` over row blocks into float64 partials; the (C,) totals of both sums."""
    part = np.zeros((_blocks(shape[0]), 2, shape[1]))
    kernel(*arrays, part)
    total = torch.from_numpy(part.sum(0))
    return total[0], total[1]


class NumbaBatchNorm:
    """Passes on contiguous CPU tensors (float32 and float64)."""

    @staticmethod
    def unsupported(x: torch.Tensor) -> bool:
        return x.is_cuda or x.dtype not in (torch.float32, torch.float64)

    @staticmethod
    def stats(x: torch.Tensor, shift: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return _block_sums(_stats, x.shape, x.detach().numpy(), shift.numpy())

    @staticmethod
    def grad_sums(dy: torch.Tensor, x: torch.Tensor, mean: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return _block_sums(_grad_sums, x.shape, dy.numpy(), x.detach().numpy(), mean.numpy())

    @staticmethod
    def affine(x: torch.Tensor, mean: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        out = pool.empty(tuple(x.shape), x.dtype)
        _affine(x.detach().numpy(), mean.numpy(), a.numpy(), b.numpy(), out.numpy())
        return out

    @staticmethod
    def grad_input(
        dy: torch.Tensor, x: torch.Tensor, mean: torch.Tensor, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor
    ) -> torch.Tensor:
        out = pool.empty(tuple(x.shape), x.dtype)
        _grad_input(dy.numpy(), x.detach().numpy(), mean.numpy(), a.numpy(), b.numpy(), c.numpy(), out.numpy())
        return out


register_batch_norm(NumbaBatchNorm, "numba")
