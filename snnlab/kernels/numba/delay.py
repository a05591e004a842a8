"""Numba (CPU) kernels of ``delay.taps``: sparse per-synapse delays, forward and backward.

Each synapse ``(o, i)`` and tap ``m`` touches only ``S`` delays (``S = 1`` in evaluation, a few
in late training), so the work is ``B * T * O * I * M * S`` multiply-adds instead of the dense
convolution's ``B * T * O * I * K``. Inputs are zero-padded in time so that every tap is a
shifted contiguous row; taps are then streamed in groups of four per output row, which keeps
the row in L1 cache and vectorises the inner loop over time (five loads, one store, four FMAs).

- forward:  ``y[b, o, u]  = sum_{i, m, j} g * xpad[b, i, K - 1 - d + u]``   (``d = d0 + j``)
- grad x:   ``gx[b, i, t] = sum_{o, m, j} g * gypad[b, o, t + d]``
- grad g:   ``gg[o, i, m, j] = sum_{b, u} gy[b, o, u] * xpad[b, i, K - 1 - d + u]``
"""
from __future__ import annotations

import numpy as np
import torch
from numba import njit, prange

from snnlab.kernels.registry import register
from snnlab.kernels.torch_delay import check_taps_args

GROUP = 4  # taps streamed together per output row


@njit(parallel=True, fastmath=True, cache=True)
def _gather_rows(src, rows, offs, ws, n_out):  # pragma: no cover - compiled
    """``out[b, r, u] = sum_n ws[r, n] * src[b, rows[r, n], offs[r, n] + u]``; ``n`` a multiple of 4."""
    n_b = src.shape[0]
    n_r, n_n = ws.shape
    out = np.zeros((n_b, n_r, n_out), dtype=src.dtype)
    for br in prange(n_b * n_r):
        b = br // n_r
        r = br - b * n_r
        acc = out[b, r]
        for n in range(0, n_n, 4):
            w0, w1, w2, w3 = ws[r, n], ws[r, n + 1], ws[r, n + 2], ws[r, n + 3]
            s0 = src[b, rows[r, n], offs[r, n]:offs[r, n] + n_out]
            s1 = src[b, rows[r, n + 1], offs[r, n + 1]:offs[r, n + 1] + n_out]
            s2 = src[b, rows[r, n + 2], offs[r, n + 2]:offs[r, n + 2] + n_out]
            s3 = src[b, rows[r, n + 3], offs[r, n + 3]:offs[r, n + 3] + n_out]
            for u in range(n_out):
                acc[u] += w0 * s0[u] + w1 * s1[u] + w2 * s2[u] + w3 * s3[u]
    return out


@njit(fastmath=True, cache=True)
def _dots4(gr, xr, top, n_out):  # pragma: no cover - compiled
    """Four dot products ``sum_u gr[u] * xr[top - j + u]`` for ``j = 0..3`` (offsets clipped at 0)."""
    x0 = xr[top:top + n_out]
    x1 = xr[max(top - 1, 0):max(top - 1, 0) + n_out]
    x2 = xr[max(top - 2, 0):max(top - 2, 0) + n_out]
    x3 = xr[max(top - 3, 0):max(top - 3, 0) + n_out]
    t0 = t1 = t2 = t3 = 0.0
    for u in range(n_out):
        gv = gr[u]
        t0 += gv * x0[u]
        t1 += gv * x1[u]
        t2 += gv * x2[u]
        t3 += gv * x3[u]
    return t0, t1, t2, t3


@njit(parallel=True, fastmath=True, cache=True)
def _grad_taps(gy, xpad, base, n_s):  # pragma: no cover - compiled
    """``gg[o, i, m, j] = sum_{b, u} gy[b, o, u] * xpad[b, i, base[o, i, m] - j + u]``."""
    n_b, n_o, n_out = gy.shape
    n_i = xpad.shape[1]
    n_m = base.shape[2]
    n_sp = (n_s + 3) // 4 * 4
    gg = np.zeros((n_o, n_i, n_m, n_sp), dtype=gy.dtype)
    n_ib = (n_i + 31) // 32
    for blk in prange(((n_o + 7) // 8) * n_ib):
        o_lo = (blk // n_ib) * 8
        i_lo = (blk - (blk // n_ib) * n_ib) * 32
        for b in range(n_b):
            for o in range(o_lo, min(o_lo + 8, n_o)):
                gr = gy[b, o]
                for i in range(i_lo, min(i_lo + 32, n_i)):
                    xr = xpad[b, i]
                    for m in range(n_m):
                        for jc in range(0, n_s, 4):
                            t0, t1, t2, t3 = _dots4(gr, xr, base[o, i, m] - jc, n_out)
                            gg[o, i, m, jc] += t0
                            gg[o, i, m, jc + 1] += t1
                            gg[o, i, m, jc + 2] += t2
                            gg[o, i, m, jc + 3] += t3
    return gg[:, :, :, :n_s].copy()


def _items(g: torch.Tensor, first: torch.Tensor, step: int, rows_axis: int) -> tuple[np.ndarray, ...]:
    """Flatten taps into per-row item lists ``(rows, offs, ws)`` padded to a multiple of ``GROUP``.

    ``first (O, I, M)`` is the source offset of tap 0; tap ``j`` is at ``first + step * j``.
    ``rows_axis`` 0: one list per output ``o`` over sources ``i``; 1: per input ``i`` over ``o``.
    """
    n_o, n_i, n_m, n_s = g.shape
    offs = first.unsqueeze(-1) + step * torch.arange(n_s)  # (O, I, M, S)
    src = torch.arange(n_i if rows_axis == 0 else n_o).view((1, -1, 1, 1) if rows_axis == 0 else (-1, 1, 1, 1))
    src = src.expand(n_o, n_i, n_m, n_s)
    if rows_axis == 1:
        g, offs, src = (t.transpose(0, 1) for t in (g, offs, src))
    n_rows = g.shape[0]
    pad = (-g[0].numel()) % GROUP
    flat = [t.reshape(n_rows, -1) for t in (src, offs, g)]
    flat = [torch.nn.functional.pad(t, (0, pad)) for t in flat]
    return tuple(t.contiguous().numpy() for t in flat)


class TapsConvNumba(torch.autograd.Function):
    """Autograd wrapper: ``x (B, I, T)``, ``g (O, I, M, S)``, ``d0 (O, I, M)`` -> ``(B, O, t_out)``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, g: torch.Tensor, d0: torch.Tensor, t_out: int, size: int) -> torch.Tensor:
        n_t = x.shape[2]
        xpad = torch.nn.functional.pad(x.detach(), (size - 1, t_out - n_t)).contiguous()  # (B, I, K-1+t_out)
        base = (size - 1) - d0.long()  # (O, I, M) offset of tap 0
        rows, offs, ws = _items(g.detach(), base, -1, 0)
        ctx.save_for_backward(xpad, g, d0)
        ctx.shape = (n_t, t_out, size)
        return torch.from_numpy(_gather_rows(xpad.numpy(), rows, offs, ws, t_out))

    @staticmethod
    def backward(ctx, gy: torch.Tensor):
        xpad, g, d0 = ctx.saved_tensors
        n_t, t_out, size = ctx.shape
        gy = gy.contiguous()
        gx = gg = None
        if ctx.needs_input_grad[0]:
            gypad = torch.nn.functional.pad(gy, (0, max(0, n_t + size - 1 - t_out))).contiguous()
            rows, offs, ws = _items(g.detach(), d0.long(), 1, 1)
            gx = torch.from_numpy(_gather_rows(gypad.numpy(), rows, offs, ws, n_t))
        if ctx.needs_input_grad[1]:
            base = ((size - 1) - d0.long()).contiguous().numpy()
            gg = torch.from_numpy(_grad_taps(gy.numpy(), xpad.numpy(), base, g.shape[3]))
        return gx, gg, None, None, None


@register("delay.taps", "numba")
def taps_numba(x: torch.Tensor, g: torch.Tensor, d0: torch.Tensor, t_out: int) -> torch.Tensor:
    """Taps-form delay convolution on CPU tensors (float32 or float64): ``(B, I, T) -> (B, O, t_out)``."""
    size = check_taps_args(x, g, d0, t_out)
    if x.dtype != g.dtype or x.dtype not in (torch.float32, torch.float64):
        raise ValueError(f"delay.taps (numba): x and g must share float32 or float64, got {x.dtype}, {g.dtype}")
    return TapsConvNumba.apply(x, g, d0, t_out, size)
