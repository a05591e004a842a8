"""Numba (CPU) kernels of ``delay.taps``: sparse per-synapse delays, forward and backward.

Each synapse ``(o, i)`` and tap ``m`` touches only ``S`` delays (``S = 1`` in evaluation, a few
in late training), so the work is ``B * T * O * I * M * S`` multiply-adds instead of the dense
convolution's ``B * T * O * I * K``.

Layout. The batch is cut into chunks of ``V`` lanes and every signal is stored as
``(B / V, rows, time, V)`` (see :func:`to_lanes`), zero-padded in time and in the last batch
chunk. A delay of ``d`` steps is then an offset of ``d * V`` elements, so each tap is one long
contiguous row (``t_out * V`` elements, a few KB: it stays in L1) and the inner loop over
``(time, lane)`` vectorises. Taps are streamed in groups of four per output row (five loads,
one store, four FMAs), and the four dot products of a synapse's taps share one pass over the
gradient row.

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
LANES = 16  # batch lanes per chunk (one AVX-512 register of float32)


def lanes_for(batch: int) -> int:
    """Lanes per batch chunk: ``LANES``, or the whole batch when it is smaller (no padding)."""
    return min(LANES, batch)


def to_lanes(x: torch.Tensor, lanes: int, left: int, total: int) -> torch.Tensor:
    """``x (B, R, T)`` (any strides) -> ``(ceil(B / V), R, total * V)``, ``x`` at steps ``left..left+T``."""
    n_b, n_r, n_t = x.shape
    n_chunks = -(-n_b // lanes)
    out = x.new_zeros(n_chunks, n_r, total, lanes)
    view = out.permute(0, 3, 1, 2)  # (NB, V, R, total)
    full = n_b // lanes
    if full:
        view[:full, :, :, left:left + n_t].copy_(x[:full * lanes].reshape(full, lanes, n_r, n_t))
    if n_b > full * lanes:
        view[full, :n_b - full * lanes, :, left:left + n_t].copy_(x[full * lanes:])
    return out.view(n_chunks, n_r, total * lanes)


def from_lanes(y: torch.Tensor, batch: int, lanes: int) -> torch.Tensor:
    """``(NB, R, n * V)`` -> contiguous ``(batch, R, n)`` (padding lanes dropped)."""
    n_chunks, n_r, flat = y.shape
    n = flat // lanes
    out = y.view(n_chunks, n_r, n, lanes).permute(0, 3, 1, 2).reshape(n_chunks * lanes, n_r, n)
    return out[:batch]


@njit(parallel=True, fastmath=True, cache=True)
def _gather_rows(src, rows, offs, ws, n_out, lanes):  # pragma: no cover - compiled
    """``out[c, r, :] = sum_n ws[r, n] * src[c, rows[r, n], V offs[r, n]:][:n_out V]``; ``n`` a multiple of 4."""
    n_c = src.shape[0]
    n_r, n_n = ws.shape
    n_u = n_out * lanes
    out = np.zeros((n_c, n_r, n_u), dtype=src.dtype)
    for cr in prange(n_c * n_r):
        c = cr // n_r
        r = cr - c * n_r
        acc = out[c, r]
        for n in range(0, n_n, 4):
            w0, w1, w2, w3 = ws[r, n], ws[r, n + 1], ws[r, n + 2], ws[r, n + 3]
            o0, o1, o2, o3 = offs[r, n] * lanes, offs[r, n + 1] * lanes, offs[r, n + 2] * lanes, offs[r, n + 3] * lanes
            s0 = src[c, rows[r, n], o0:o0 + n_u]
            s1 = src[c, rows[r, n + 1], o1:o1 + n_u]
            s2 = src[c, rows[r, n + 2], o2:o2 + n_u]
            s3 = src[c, rows[r, n + 3], o3:o3 + n_u]
            for u in range(n_u):
                acc[u] += w0 * s0[u] + w1 * s1[u] + w2 * s2[u] + w3 * s3[u]
    return out


@njit(fastmath=True, cache=True)
def _dots4(gr, xr, top, step):  # pragma: no cover - compiled
    """Four dot products ``sum_u gr[u] * xr[top - j step + u]`` for ``j = 0..3`` (offsets clipped at 0)."""
    n_u = gr.shape[0]
    x0 = xr[top:top + n_u]
    x1 = xr[max(top - step, 0):max(top - step, 0) + n_u]
    x2 = xr[max(top - 2 * step, 0):max(top - 2 * step, 0) + n_u]
    x3 = xr[max(top - 3 * step, 0):max(top - 3 * step, 0) + n_u]
    t0 = t1 = t2 = t3 = 0.0
    for u in range(n_u):
        gv = gr[u]
        t0 += gv * x0[u]
        t1 += gv * x1[u]
        t2 += gv * x2[u]
        t3 += gv * x3[u]
    return t0, t1, t2, t3


@njit(parallel=True, fastmath=True, cache=True)
def _grad_taps(gy, xpad, base, n_s, n_out, lanes):  # pragma: no cover - compiled
    """``gg[o, i, m, j] = sum_{c, u < n_out V} gy[c, o, u] * xpad[c, i, V (base[o, i, m] - j) + u]``."""
    n_c, n_o = gy.shape[0], gy.shape[1]
    n_i = xpad.shape[1]
    n_m = base.shape[2]
    n_sp = (n_s + 3) // 4 * 4
    n_u = n_out * lanes
    gg = np.zeros((n_o, n_i, n_m, n_sp), dtype=gy.dtype)
    n_ib = (n_i + 31) // 32
    for blk in prange(((n_o + 7) // 8) * n_ib):
        o_lo = (blk // n_ib) * 8
        i_lo = (blk - (blk // n_ib) * n_ib) * 32
        for c in range(n_c):
            for o in range(o_lo, min(o_lo + 8, n_o)):
                gr = gy[c, o, :n_u]
                for i in range(i_lo, min(i_lo + 32, n_i)):
                    xr = xpad[c, i]
                    for m in range(n_m):
                        for jc in range(0, n_s, 4):
                            t0, t1, t2, t3 = _dots4(gr, xr, (base[o, i, m] - jc) * lanes, lanes)
                            gg[o, i, m, jc] += t0
                            gg[o, i, m, jc + 1] += t1
                            gg[o, i, m, jc + 2] += t2
                            gg[o, i, m, jc + 3] += t3
    return gg[:, :, :, :n_s].copy()


def _items(g: torch.Tensor, first: torch.Tensor, step: int, rows_axis: int) -> tuple[np.ndarray, ...]:
    """Flatten taps into per-row item lists ``(rows, offs, ws)`` padded to a multiple of ``GROUP``.

    ``first (O, I, M)`` is the source offset (steps) of tap 0; tap ``j`` is at ``first + step * j``.
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
        n_b, _, n_t = x.shape
        lanes = lanes_for(n_b)
        xpad = to_lanes(x.detach(), lanes, size - 1, size - 1 + t_out)  # (NB, I, (K-1+t_out) V)
        base = (size - 1) - d0.long()  # (O, I, M) offset of tap 0
        rows, offs, ws = _items(g.detach(), base, -1, 0)
        ctx.save_for_backward(xpad, g, d0)
        ctx.shape = (n_b, n_t, t_out, size, lanes)
        y = _gather_rows(xpad.numpy(), rows, offs, ws, t_out, lanes)  # (NB, O, t_out V)
        return from_lanes(torch.from_numpy(y), n_b, lanes)

    @staticmethod
    def backward(ctx, gy: torch.Tensor):
        xpad, g, d0 = ctx.saved_tensors
        n_b, n_t, t_out, size, lanes = ctx.shape
        gyl = to_lanes(gy, lanes, 0, max(t_out, n_t + size - 1))  # (NB, O, (.) V), zero tail
        gx = gg = None
        if ctx.needs_input_grad[0]:
            rows, offs, ws = _items(g.detach(), d0.long(), 1, 1)
            gx = from_lanes(torch.from_numpy(_gather_rows(gyl.numpy(), rows, offs, ws, n_t, lanes)), n_b, lanes)
        if ctx.needs_input_grad[1]:
            base = ((size - 1) - d0.long()).contiguous().numpy()
            gg = torch.from_numpy(_grad_taps(gyl.numpy(), xpad.numpy(), base, g.shape[3], t_out, lanes))
        return gx, gg, None, None, None


@register("delay.taps", "numba")
def taps_numba(x: torch.Tensor, g: torch.Tensor, d0: torch.Tensor, t_out: int) -> torch.Tensor:
    """Taps-form delay convolution on CPU tensors (float32 or float64): ``(B, I, T) -> (B, O, t_out)``.

    ``x`` may be any strided view (e.g. a permuted time-major tensor); it is copied once into the
    lane layout.
    """
    size = check_taps_args(x, g, d0, t_out)
    if x.dtype != g.dtype or x.dtype not in (torch.float32, torch.float64):
        raise ValueError(f"delay.taps (numba): x and g must share float32 or float64, got {x.dtype}, {g.dtype}")
    return TapsConvNumba.apply(x, g, d0, t_out, size)
