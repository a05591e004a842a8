"""numba (CPU) kernels of ``linear.spikes`` (see :mod:`snnlab.kernels.common.spike_linear`).

- ``compress``: one pass over ``x``, parallel over blocks of rows: each row's nonzero columns
  branch-free into a scratch row (1.6-1.9x faster than a branch per element at 5-8 % density),
  then into the block's part of the CSR arrays, sized by the density of the last input of the
  same shape (x1.25); the density check; the blocks copied together into exact-size arrays, in
  parallel. A block that does not fit is filled again from ``x`` by the row offsets. Untouched parts
  of the arrays take no memory.
- ``forward``: parallel over rows; row ``m`` of ``y`` adds ``val * W^T[k, :]`` per nonzero
  (vectorised over the ``N`` outputs), four nonzeros per pass over the row.
- ``input_grad``: ``dy W`` into a pooled buffer: torch's GEMM, or for at most
  :data:`SMALL_GEMM_N` outputs (a readout) the forward's row accumulation over the dense ``dy``
  (2.5x faster than the GEMM at 20 outputs, slower from 64).
- ``weight_grad``: the rows are split into one block per thread; each thread adds
  ``val * dy[m, :]`` into its own ``(K, N)`` accumulator (no write is shared), then the
  accumulators are summed.
"""

from __future__ import annotations

import math
from typing import Optional

import numba
import numpy as np
import torch
from numba import njit, prange

from snnlab.kernels import pool
from snnlab.kernels.common.spike_linear import CSR, input_grad_torch, register_spike_linear

_LAST_DENSITY: dict[tuple, float] = {}  # (M, K, max_density) -> share of nonzeros of the last input
SMALL_GEMM_N = 32  # input gradient: at most this many outputs, rows beat torch's GEMM (benchmarks/README.md)


@njit(cache=True)
def _compact_row(x, m, cols):  # pragma: no cover - compiled
    """The columns of row ``m``'s nonzeros into ``cols`` (branch-free: a mispredicted branch per
    nonzero costs more than a store per element); returns their number."""
    n = 0
    for k in range(x.shape[1]):
        cols[n] = k
        n += x[m, k] != 0
    return n


@njit(parallel=True, cache=True)
def _compact(x, n_blocks, cap, idx, val, counts, totals):  # pragma: no cover - compiled
    """One pass over ``x``: block ``b`` of rows writes its nonzeros to ``[b cap, (b + 1) cap)`` of
    ``idx``/``val``, ``counts[m]`` per row, ``totals[b]`` (-1 when the block did not fit)."""
    M, K = x.shape
    per = (M + n_blocks - 1) // n_blocks
    for blk in prange(n_blocks):
        cols = np.empty(K + 1, dtype=np.int32)
        q, end = blk * cap, (blk + 1) * cap
        for m in range(blk * per, min(M, (blk + 1) * per)):
            n = _compact_row(x, m, cols)
            counts[m] = n
            if q >= 0 and q + n <= end:
                for i in range(n):
                    idx[q + i] = cols[i]
                    val[q + i] = x[m, cols[i]]
                q += n
            else:
                q = -1  # overflow: counting goes on, the rows are filled again by _fill
        totals[blk] = q - blk * cap if q >= 0 else -1


@njit(parallel=True, cache=True)
def _join_blocks(idx, val, cap, totals, idx_out, val_out):  # pragma: no cover - compiled
    """Each block's nonzeros, in order, right after the previous block's, into the exact-size arrays."""
    starts = np.zeros(totals.shape[0], dtype=np.int64)
    for blk in range(1, totals.shape[0]):
        starts[blk] = starts[blk - 1] + totals[blk - 1]
    for blk in prange(totals.shape[0]):
        src, dst = blk * cap, starts[blk]
        for i in range(totals[blk]):
            idx_out[dst + i] = idx[src + i]
            val_out[dst + i] = val[src + i]


@njit(parallel=True, cache=True)
def _fill(x, indptr, idx, val, n_blocks):  # pragma: no cover - compiled
    """CSR fill from known row offsets (the fallback when a block overflows its compaction buffer)."""
    M, K = x.shape
    per = (M + n_blocks - 1) // n_blocks
    for blk in prange(n_blocks):
        cols = np.empty(K + 1, dtype=np.int32)
        for m in range(blk * per, min(M, (blk + 1) * per)):
            n, p = _compact_row(x, m, cols), indptr[m]
            for i in range(n):
                idx[p + i] = cols[i]
                val[p + i] = x[m, cols[i]]


@njit(fastmath=True, cache=True)
def _accumulate(row, wt, ks, vals, start, end):  # pragma: no cover - compiled
    """``row = sum_{start <= p < end} vals[p] * wt[ks[p], :]``, four terms per pass over ``row``."""
    row[:] = 0
    p = start
    while p + 4 <= end:
        w0, w1, w2, w3 = wt[ks[p]], wt[ks[p + 1]], wt[ks[p + 2]], wt[ks[p + 3]]
        v0, v1, v2, v3 = vals[p], vals[p + 1], vals[p + 2], vals[p + 3]
        for n in range(row.shape[0]):
            row[n] += (v0 * w0[n] + v1 * w1[n]) + (v2 * w2[n] + v3 * w3[n])
        p += 4
    for q in range(p, end):
        w, v = wt[ks[q]], vals[q]
        for n in range(row.shape[0]):
            row[n] += v * w[n]


@njit(parallel=True, cache=True)
def _forward(indptr, idx, val, wt, out):  # pragma: no cover - compiled
    for m in prange(out.shape[0]):
        _accumulate(out[m], wt, idx, val, indptr[m], indptr[m + 1])


@njit(parallel=True, cache=True)
def _dense_rows(a, w, ks, out):  # pragma: no cover - compiled
    """``out = a @ w`` row by row (``ks = arange(a.shape[1])``): for a short inner dimension."""
    for m in prange(out.shape[0]):
        _accumulate(out[m], w, ks, a[m], 0, a.shape[1])


@njit(parallel=True, fastmath=True, cache=True)
def _weight_grad(indptr, idx, val, gy, acc):  # pragma: no cover - compiled
    n_blocks, n_out, M = acc.shape[0], gy.shape[1], gy.shape[0]
    per = (M + n_blocks - 1) // n_blocks
    for blk in prange(n_blocks):
        a = acc[blk]
        for m in range(blk * per, min(M, (blk + 1) * per)):
            g = gy[m]
            for p in range(indptr[m], indptr[m + 1]):
                r, v = a[idx[p]], val[p]
                for n in range(n_out):
                    r[n] += v * g[n]


class NumbaSpikeLinear:
    """CSR kernels on CPU tensors (float32 and float64)."""

    @staticmethod
    def unsupported(x: torch.Tensor) -> bool:
        return x.is_cuda or x.dtype not in (torch.float32, torch.float64)

    @staticmethod
    def compress(x: torch.Tensor, max_density: float) -> Optional[CSR]:
        xn, (M, K) = x.numpy(), x.shape
        n_blocks = max(1, min(M, 4 * numba.get_num_threads()))
        per = -(-M // n_blocks)
        expect = min(max_density, 1.25 * _LAST_DENSITY.get((M, K, max_density), max_density))
        cap = math.ceil(expect * per * K) + K  # per block: the density seen last time and a margin
        idx, val = np.empty(n_blocks * cap, dtype=np.int32), np.empty(n_blocks * cap, dtype=xn.dtype)
        counts, totals = np.empty(M, dtype=np.int64), np.empty(n_blocks, dtype=np.int64)
        _compact(xn, n_blocks, cap, idx, val, counts, totals)
        indptr = np.zeros(M + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        nnz = int(indptr[-1])
        _LAST_DENSITY[(M, K, max_density)] = nnz / max(1, M * K)
        if nnz > max_density * x.numel():
            return None
        idx_out, val_out = np.empty(nnz, dtype=np.int32), np.empty(nnz, dtype=xn.dtype)
        if (totals < 0).any():  # a block denser than planned: fill from x by the row offsets
            _fill(xn, indptr, idx_out, val_out, n_blocks)
        else:
            _join_blocks(idx, val, cap, totals, idx_out, val_out)
        return CSR(torch.from_numpy(indptr), torch.from_numpy(idx_out), torch.from_numpy(val_out), (M, K))

    @staticmethod
    def forward(csr: CSR, wt: torch.Tensor) -> torch.Tensor:
        out = pool.empty((csr.shape[0], wt.shape[1]), wt.dtype)  # reused between steps: no fresh pages
        _forward(csr.indptr.numpy(), csr.idx.numpy(), csr.val.numpy(), wt.numpy(), out.numpy())
        return out

    @staticmethod
    def input_grad(gy: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        if gy.shape[1] > SMALL_GEMM_N:  # torch's GEMM (numpy's BLAS spins its threads: slower in a step)
            return input_grad_torch(gy, weight)
        out = pool.empty((gy.shape[0], weight.shape[1]), gy.dtype)
        _dense_rows(gy.numpy(), weight.numpy(), np.arange(gy.shape[1], dtype=np.int32), out.numpy())
        return out

    @staticmethod
    def weight_grad(csr: CSR, gy: torch.Tensor, n_in: int) -> torch.Tensor:
        blocks = max(1, min(numba.get_num_threads(), csr.shape[0]))
        acc = pool.full((blocks, n_in, gy.shape[1]), 0.0, gy.dtype)  # per-thread accumulators, reused
        _weight_grad(csr.indptr.numpy(), csr.idx.numpy(), csr.val.numpy(), gy.numpy(), acc.numpy())
        return acc[0] if blocks == 1 else acc.sum(0)  # (K, N)


register_spike_linear(NumbaSpikeLinear, "numba")
