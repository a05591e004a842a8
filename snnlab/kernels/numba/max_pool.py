"""numba (CPU) kernels of ``max_pool2d.rows`` (see :mod:`snnlab.kernels.common.max_pool`).

- ``forward``: parallel over output image rows; per output pixel the window is scanned in
  row-major order with the channels innermost (branch-free selects, vectorised), keeping torch's
  argmax rule; the window position of the maximum is stored as an int32 per output (a uint8 one
  stopped the vectorisation: 15x slower).
- ``backward``: parallel over images (overlapping windows of one image write the same inputs);
  the pooled gradient buffer is zeroed, then every output adds ``dy`` to its argmax, in output order.
No fastmath: the NaN test of the argmax rule must stay.
"""

from __future__ import annotations

import numpy as np
import torch
from numba import njit, prange

from snnlab.kernels import pool
from snnlab.kernels.common.max_pool import register_max_pool


@njit(parallel=True, cache=True)
def _forward(x, y, arg, n_img, h, w, ho, wo, k, s, p):  # pragma: no cover - compiled
    """``y, arg (N Ho Wo, C)`` from ``x (N H W, C)``: branch-free selects over the channels."""
    for ny in prange(n_img * ho):
        n, oy = ny // ho, ny % ho
        for ox in range(wo):
            yr, ar, first = y[ny * wo + ox], arg[ny * wo + ox], True
            for ky in range(k):
                iy = oy * s - p + ky
                for kx in range(k):
                    ix = ox * s - p + kx
                    if iy < 0 or iy >= h or ix < 0 or ix >= w:
                        continue
                    xr, pos = x[(n * h + iy) * w + ix], np.int32(ky * k + kx)
                    if first:  # the window's first pixel inside the image
                        yr[:] = xr
                        ar[:] = pos
                        first = False
                        continue
                    for ch in range(xr.shape[0]):
                        v, m = xr[ch], yr[ch]
                        take = (v > m) | (v != v)
                        ar[ch] = pos if take else ar[ch]
                        yr[ch] = v if take else m


@njit(parallel=True, cache=True)
def _backward(gy, arg, gx, n_img, h, w, ho, wo, k, s, p):  # pragma: no cover - compiled
    """``gx (N H W, C)``: zero, then ``gy`` added at every window's argmax."""
    c = gy.shape[1]
    for n in prange(n_img):
        gx[n * h * w : (n + 1) * h * w] = 0
        for oy in range(ho):
            for ox in range(wo):
                po = (n * ho + oy) * wo + ox
                for ch in range(c):
                    a = arg[po, ch]
                    gx[(n * h + oy * s - p + a // k) * w + ox * s - p + a % k, ch] += gy[po, ch]


class NumbaMaxPool:
    """Max pooling kernels on channels-last CPU tensors (float32 and float64)."""

    @staticmethod
    def unsupported(x: torch.Tensor) -> bool:
        return x.is_cuda or x.dtype not in (torch.float32, torch.float64)

    @staticmethod
    def forward(x: torch.Tensor, k: int, s: int, p: int) -> tuple[torch.Tensor, torch.Tensor]:
        n, h, w, c = x.shape
        if p > k // 2:  # torch's own rule
            raise ValueError(f"max_pool2d.rows: padding {p} must be at most half the kernel size {k}")
        ho, wo = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        y, arg = pool.empty((n, ho, wo, c), x.dtype), torch.empty((n, ho, wo, c), dtype=torch.int32)
        rows = x.reshape(n * h * w, c).numpy()  # a view of the channels-last map
        _forward(rows, y.view(-1, c).numpy(), arg.view(-1, c).numpy(), n, h, w, ho, wo, k, s, p)
        return y, arg

    @staticmethod
    def backward(gy: torch.Tensor, arg: torch.Tensor, shape: tuple, k: int, s: int, p: int) -> torch.Tensor:
        n, h, w, c = shape
        ho, wo = gy.shape[1:3]
        gx = pool.empty(shape, gy.dtype)  # (N, H, W, C), reused between steps
        _backward(gy.view(-1, c).numpy(), arg.view(-1, c).numpy(), gx.view(-1, c).numpy(), n, h, w, ho, wo, k, s, p)
        return gx


register_max_pool(NumbaMaxPool, "numba")
