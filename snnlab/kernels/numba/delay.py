"""Numba (CPU) kernels of ``delay.taps``: sparse per-synapse delays, forward and backward.

Each synapse ``(o, i)`` and tap ``m`` touches only ``S`` delays (``S = 1`` in evaluation, a few
in late training), so the work is ``B * T * O * I * M * S`` multiply-adds instead of the dense
convolution's ``B * T * O * I * K``. Layout is channel-major ``(B, C, T)``: the inner loop runs
over contiguous time and vectorises; the output row of one ``(b, o)`` stays in L1 cache.

- forward, parallel over ``(b, o)``:  ``y[b, o, t + d] += g * x[b, i, t]``
- grad x, parallel over ``(b, i)``:   ``gx[b, i, t] += g * gy[b, o, t + d]``
- grad g, parallel over ``(o, i)``:   ``gg[o, i, m, j] = sum_{b, t} gy[b, o, t + d] * x[b, i, t]``
"""
from __future__ import annotations

import numpy as np
import torch
from numba import njit, prange

from snnlab.kernels.registry import register
from snnlab.kernels.torch_delay import check_taps_args


@njit(parallel=True, fastmath=True, cache=True)
def _forward(x, g, d0, t_out):  # pragma: no cover - compiled
    n_b, n_i, n_t = x.shape
    n_o, _, n_m, n_s = g.shape
    y = np.zeros((n_b, n_o, t_out), dtype=x.dtype)
    for bo in prange(n_b * n_o):
        b = bo // n_o
        o = bo - b * n_o
        acc = y[b, o]
        for i in range(n_i):
            xr = x[b, i]
            for m in range(n_m):
                for j in range(n_s):
                    w = g[o, i, m, j]
                    if w == 0.0:
                        continue
                    d = d0[o, i, m] + j
                    n = min(n_t, t_out - d)
                    for t in range(n):
                        acc[t + d] += w * xr[t]
    return y


@njit(parallel=True, fastmath=True, cache=True)
def _grad_x(gy, g, d0, n_t):  # pragma: no cover - compiled
    n_b, n_o, t_out = gy.shape
    _, n_i, n_m, n_s = g.shape
    gx = np.zeros((n_b, n_i, n_t), dtype=gy.dtype)
    for bi in prange(n_b * n_i):
        b = bi // n_i
        i = bi - b * n_i
        acc = gx[b, i]
        for o in range(n_o):
            gr = gy[b, o]
            for m in range(n_m):
                for j in range(n_s):
                    w = g[o, i, m, j]
                    if w == 0.0:
                        continue
                    d = d0[o, i, m] + j
                    n = min(n_t, t_out - d)
                    for t in range(n):
                        acc[t] += w * gr[t + d]
    return gx


@njit(parallel=True, fastmath=True, cache=True)
def _grad_g(gy, x, d0, n_s):  # pragma: no cover - compiled
    n_b, n_o, t_out = gy.shape
    _, n_i, n_t = x.shape
    n_m = d0.shape[2]
    gg = np.zeros((n_o, n_i, n_m, n_s), dtype=x.dtype)
    for oi in prange(n_o * n_i):
        o = oi // n_i
        i = oi - o * n_i
        for m in range(n_m):
            for j in range(n_s):
                d = d0[o, i, m] + j
                n = min(n_t, t_out - d)
                tot = 0.0
                for b in range(n_b):
                    gr = gy[b, o]
                    xr = x[b, i]
                    for t in range(n):
                        tot += gr[t + d] * xr[t]
                gg[o, i, m, j] = tot
    return gg


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().contiguous().numpy()


class TapsConvNumba(torch.autograd.Function):
    """Autograd wrapper: ``x (B, I, T)``, ``g (O, I, M, S)``, ``d0 (O, I, M)`` -> ``(B, O, t_out)``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, g: torch.Tensor, d0: torch.Tensor, t_out: int) -> torch.Tensor:
        d0n = _np(d0.long())
        ctx.save_for_backward(x, g, d0)
        ctx.t_out = t_out
        return torch.from_numpy(_forward(_np(x), _np(g), d0n, t_out))

    @staticmethod
    def backward(ctx, gy: torch.Tensor):
        x, g, d0 = ctx.saved_tensors
        gyn, d0n = _np(gy), _np(d0.long())
        gx = torch.from_numpy(_grad_x(gyn, _np(g), d0n, x.shape[2])) if ctx.needs_input_grad[0] else None
        gg = torch.from_numpy(_grad_g(gyn, _np(x), d0n, g.shape[3])) if ctx.needs_input_grad[1] else None
        return gx, gg, None, None


@register("delay.taps", "numba")
def taps_numba(x: torch.Tensor, g: torch.Tensor, d0: torch.Tensor, t_out: int) -> torch.Tensor:
    """Taps-form delay convolution on CPU tensors (float32 or float64): ``(B, I, T) -> (B, O, t_out)``."""
    check_taps_args(x, g, d0, t_out)
    if x.dtype != g.dtype or x.dtype not in (torch.float32, torch.float64):
        raise ValueError(f"delay.taps (numba): x and g must share float32 or float64, got {x.dtype}, {g.dtype}")
    return TapsConvNumba.apply(x, g, d0, t_out)
