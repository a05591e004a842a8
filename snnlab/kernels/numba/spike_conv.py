"""numba (CPU) kernels of ``conv2d.spikes`` (see :mod:`snnlab.kernels.common.spike_conv`).

- ``compress``: the CSR rows of ``linear.spikes`` (one row per pixel).
- ``forward``: parallel over output image rows; output pixel ``p`` adds, for every tap inside the
  image, ``val * W_t^T[c, :]`` per nonzero of the input pixel under that tap (vectorised over
  ``C_out``, two nonzeros per pass over the output row; plain indexing: slicing rows per tap
  made it 2x slower at these sizes).
- ``weight_grad``: the input image rows are split into one block per thread; each thread adds
  ``val * dy[q - off_t, :]`` into its own ``(taps, C_in, C_out)`` accumulator (no write is
  shared), then the accumulators are summed.
"""

from __future__ import annotations

import numba
import torch
from numba import njit, prange

from snnlab.kernels import pool
from snnlab.kernels.common.spike_conv import register_spike_conv
from snnlab.kernels.numba.spike_linear import NumbaSpikeLinear


@njit(parallel=True, fastmath=True, cache=True)
def _forward(indptr, idx, val, wt, out, n_img, h, w, kh, kw):  # pragma: no cover - compiled
    """``out (N H W, C_out)`` from the CSR pixels and ``wt (kh kw, C_in, C_out)``."""
    n_out, ph, pw = out.shape[1], kh // 2, kw // 2
    for ny in prange(n_img * h):
        n, y = ny // h, ny % h
        for x in range(w):
            po = ny * w + x
            for o in range(n_out):
                out[po, o] = 0
            for dy in range(kh):
                yi = y + dy - ph
                for dx in range(kw):
                    xi = x + dx - pw
                    if yi < 0 or yi >= h or xi < 0 or xi >= w:
                        continue
                    m, t = (n * h + yi) * w + xi, dy * kw + dx
                    p, e = indptr[m], indptr[m + 1]
                    while p + 2 <= e:  # two nonzeros per pass over the output row
                        c0, c1, v0, v1 = idx[p], idx[p + 1], val[p], val[p + 1]
                        for o in range(n_out):
                            out[po, o] += v0 * wt[t, c0, o] + v1 * wt[t, c1, o]
                        p += 2
                    if p < e:
                        c0, v0 = idx[p], val[p]
                        for o in range(n_out):
                            out[po, o] += v0 * wt[t, c0, o]


@njit(parallel=True, fastmath=True, cache=True)
def _weight_grad(indptr, idx, val, gy, acc, n_img, h, w, kh, kw):  # pragma: no cover - compiled
    """``acc[block] (kh kw, C_in, C_out)``: per-thread sums of ``val * gy[q - off_t, :]``."""
    n_blocks, n_out, rows = acc.shape[0], gy.shape[1], n_img * h
    ph, pw = kh // 2, kw // 2
    per = (rows + n_blocks - 1) // n_blocks
    for blk in prange(n_blocks):
        for ny in range(blk * per, min(rows, (blk + 1) * per)):
            n, yi = ny // h, ny % h
            for xi in range(w):
                m = ny * w + xi
                s, e = indptr[m], indptr[m + 1]
                for dy in range(kh):
                    y = yi - dy + ph
                    for dx in range(kw):
                        x = xi - dx + pw
                        if s == e or y < 0 or y >= h or x < 0 or x >= w:
                            continue
                        po, t = (n * h + y) * w + x, dy * kw + dx
                        for p in range(s, e):
                            c, v = idx[p], val[p]
                            for o in range(n_out):
                                acc[blk, t, c, o] += v * gy[po, o]


class NumbaSpikeConv:
    """CSR convolution kernels on CPU tensors (float32 and float64)."""

    unsupported = staticmethod(NumbaSpikeLinear.unsupported)
    compress = staticmethod(NumbaSpikeLinear.compress)

    @staticmethod
    def forward(csr, wt: torch.Tensor, shape: tuple[int, int, int, int, int]) -> torch.Tensor:
        n, h, w, kh, kw = shape
        out = pool.empty((n * h * w, wt.shape[2]), wt.dtype)  # (N H W, C_out), reused between steps
        _forward(csr.indptr.numpy(), csr.idx.numpy(), csr.val.numpy(), wt.numpy(), out.numpy(), n, h, w, kh, kw)
        return out

    @staticmethod
    def weight_grad(csr, gy: torch.Tensor, shape: tuple[int, int, int, int, int], n_in: int) -> torch.Tensor:
        n, h, w, kh, kw = shape
        gy = gy.contiguous()  # (N H W, C_out)
        blocks = max(1, min(numba.get_num_threads(), n * h))
        acc = pool.full((blocks, kh * kw, n_in, gy.shape[1]), 0.0, gy.dtype)  # per-thread accumulators
        args = (csr.indptr.numpy(), csr.idx.numpy(), csr.val.numpy(), gy.numpy(), acc.numpy())
        _weight_grad(*args, n, h, w, kh, kw)
        return acc[0] if blocks == 1 else acc.sum(0)  # (kh kw, C_in, C_out)


register_spike_conv(NumbaSpikeConv, "numba")
