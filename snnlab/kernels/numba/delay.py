"""Numba (CPU) kernels of ``delay.taps``: sparse per-synapse delays, forward and backward.

Each synapse ``(o, i)`` and tap ``m`` touches only ``S`` delays (``S = 1`` in evaluation, a few
in late training), so the work is ``B * T * O * I * M * S`` multiply-adds instead of the dense
convolution's ``B * T * O * I * K``.

Layout. The batch is cut into chunks of ``V`` lanes and every signal is stored as
``(B / V, rows, time, V)`` (see :func:`to_lanes`), zero-padded in time and in the last batch
chunk. A delay of ``d`` steps is then an offset of ``d * V`` elements, so each tap is one long
contiguous row (``t_out * V`` elements, a few KB: it stays in L1) and the inner loop over
``(time, lane)`` vectorises. ``V`` reaches the inner loops as a compile-time constant (one
compiled variant per lane count), so the consecutive delays of a synapse are loads shifted by
whole vectors: the tap-weight gradient takes the four dot products of four consecutive taps in
one unrolled pass that reuses its loads, accumulating in the arrays' own dtype. The gather
kernels (forward and grad-input) add 8 taps per pass over an output row: two *items* of
``WIDTH`` consecutive taps when ``S >= WIDTH``, else 8 single taps. Every row carries
``WIDTH - 1`` extra zero steps at its end, so a zero-padded tap never reads past it. Large
buffers come from :mod:`snnlab.kernels.pool`, so a training step faults in no fresh memory.

- forward:  ``y[b, o, u]  = sum_{i, m, j} g * xpad[b, i, K - 1 - d + u]``   (``d = d0 + j``)
- grad x:   ``gx[b, i, t] = sum_{o, m, j} g * gypad[b, o, t + d]``
- grad g:   ``gg[o, i, m, j] = sum_{b, u} gy[b, o, u] * xpad[b, i, K - 1 - d + u]``
"""

from __future__ import annotations

import math

import numba
import numpy as np
import torch
from numba import njit, prange

from snnlab.kernels import pool
from snnlab.kernels.common.spectral_delay import dense_spectral
from snnlab.kernels.registry import register
from snnlab.kernels.torch_delay import check_taps_args

LANES = 16  # batch lanes per chunk (one AVX-512 register of float32)
WIDTH = 4  # consecutive taps of one item (when S >= WIDTH)
FMAS = 8  # taps added per pass over an output row
ROW_BLOCK = 32  # output rows of one gather task (their accumulators stay in L2)


def lanes_for(batch: int) -> int:
    """Lanes per batch chunk: ``LANES``, or the power of two that holds a smaller batch.

    The kernels compile one variant per lane count (1, 2, 4, 8, 16).
    """
    return min(LANES, 1 << (batch - 1).bit_length())


def empty(shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """An uninitialised CPU tensor from the shared buffer pool (:mod:`snnlab.kernels.pool`)."""
    return pool.empty(shape, dtype)


@njit(parallel=True, fastmath=True, cache=True)
def _to_lanes(x, out, lanes, left):  # pragma: no cover - compiled
    """``out[c, r, V (left + t) + v] = x[c V + v, r, t]``; every other element of ``out`` set to 0."""
    n_b, n_r, n_t = x.shape
    n_c = out.shape[0]
    for cr in prange(n_c * n_r):
        c = cr // n_r
        r = cr - c * n_r
        row = out[c, r]
        row[: left * lanes] = 0
        row[(left + n_t) * lanes :] = 0
        n_v = min(lanes, n_b - c * lanes)
        for t in range(n_t):
            at = (left + t) * lanes
            for v in range(n_v):
                row[at + v] = x[c * lanes + v, r, t]
            row[at + n_v : at + lanes] = 0


def to_lanes(x: torch.Tensor, lanes: int, left: int, total: int) -> torch.Tensor:
    """``x (B, R, T)`` (any strides) -> ``(ceil(B / V), R, total * V)``, ``x`` at steps ``left..left+T``."""
    n_b, n_r, n_t = x.shape
    out = empty((-(-n_b // lanes), n_r, total * lanes), x.dtype)
    _to_lanes(x.detach().numpy(), out.numpy(), lanes, left)
    return out


@njit(fastmath=True, cache=True)
def _store_lanes(out, acc, c, r_lo, n_rows, lanes):  # pragma: no cover - compiled
    """``out[c V + v, r_lo + k, t] = acc[k, t V + v]`` for the real (unpadded) lanes of chunk ``c``."""
    n_b, _, n_t = out.shape
    for k in range(n_rows):
        for v in range(min(lanes, n_b - c * lanes)):
            row = out[c * lanes + v, r_lo + k]
            for t in range(n_t):
                row[t] = acc[k, t * lanes + v]


@njit(fastmath=True, cache=True)
def _add_singles(acc, src, rows, offs, ws, lanes):  # pragma: no cover - compiled
    """``acc[:] += sum_n ws[n, 0] * src[rows[n], V offs[n]:][:len(acc)]``, 8 single taps a pass."""
    n_u = acc.shape[0]
    for n in range(0, rows.shape[0], 8):
        w0, w1, w2, w3 = ws[n, 0], ws[n + 1, 0], ws[n + 2, 0], ws[n + 3, 0]
        w4, w5, w6, w7 = ws[n + 4, 0], ws[n + 5, 0], ws[n + 6, 0], ws[n + 7, 0]
        o0, o1, o2, o3 = offs[n] * lanes, offs[n + 1] * lanes, offs[n + 2] * lanes, offs[n + 3] * lanes
        o4, o5, o6, o7 = offs[n + 4] * lanes, offs[n + 5] * lanes, offs[n + 6] * lanes, offs[n + 7] * lanes
        s0, s1 = src[rows[n], o0 : o0 + n_u], src[rows[n + 1], o1 : o1 + n_u]
        s2, s3 = src[rows[n + 2], o2 : o2 + n_u], src[rows[n + 3], o3 : o3 + n_u]
        s4, s5 = src[rows[n + 4], o4 : o4 + n_u], src[rows[n + 5], o5 : o5 + n_u]
        s6, s7 = src[rows[n + 6], o6 : o6 + n_u], src[rows[n + 7], o7 : o7 + n_u]
        for u in range(n_u):
            acc[u] += (
                w0 * s0[u] + w1 * s1[u] + w2 * s2[u] + w3 * s3[u] + w4 * s4[u] + w5 * s5[u] + w6 * s6[u] + w7 * s7[u]
            )


@njit(fastmath=True, cache=True)
def _add_pairs(acc, src, rows, offs, ws, lanes):  # pragma: no cover - compiled
    """``acc[:] += sum_{n, k < 4} ws[n, k] * src[rows[n], V (offs[n] + k):][:len(acc)]``, 2 items a pass."""
    n_u = acc.shape[0]
    for n in range(0, rows.shape[0], 2):
        a0, a1, a2, a3 = ws[n, 0], ws[n, 1], ws[n, 2], ws[n, 3]
        b0, b1, b2, b3 = ws[n + 1, 0], ws[n + 1, 1], ws[n + 1, 2], ws[n + 1, 3]
        a = src[rows[n], offs[n] * lanes : offs[n] * lanes + n_u + 3 * lanes]
        b = src[rows[n + 1], offs[n + 1] * lanes : offs[n + 1] * lanes + n_u + 3 * lanes]
        for u in range(n_u):
            acc[u] += (
                a0 * a[u]
                + a1 * a[u + lanes]
                + a2 * a[u + 2 * lanes]
                + a3 * a[u + 3 * lanes]
                + b0 * b[u]
                + b1 * b[u + lanes]
                + b2 * b[u + 2 * lanes]
                + b3 * b[u + 3 * lanes]
            )


@njit(fastmath=True, cache=True)
def _add_row(acc, src, rows, offs, ws, lanes):  # pragma: no cover - compiled
    """Add one row's items; each branch passes the lane count as a constant (compile-time shifts)."""
    if ws.shape[1] == 1:
        _add_singles(acc, src, rows, offs, ws, lanes)
    elif lanes == 16:
        _add_pairs(acc, src, rows, offs, ws, 16)
    elif lanes == 8:
        _add_pairs(acc, src, rows, offs, ws, 8)
    elif lanes == 4:
        _add_pairs(acc, src, rows, offs, ws, 4)
    elif lanes == 2:
        _add_pairs(acc, src, rows, offs, ws, 2)
    else:
        _add_pairs(acc, src, rows, offs, ws, 1)


@njit(parallel=True, fastmath=True, cache=True)
def _gather(src, rows, offs, ws, out, lanes, row_block, n_threads):  # pragma: no cover - compiled
    """``out[c V + v, r, t] = sum_{n, k} ws[r, n, k] * src[c, rows[r, n], V (offs[r, n] + k + t) + v]``.

    Tasks are (chunk ``c``, block of ``row_block`` rows), dealt to ``n_threads`` threads, each
    with its own accumulator, so no fresh output-sized buffer is touched by several threads.
    """
    n_c = src.shape[0]
    n_r = rows.shape[0]
    n_u = out.shape[2] * lanes
    n_rb = -(-n_r // row_block)
    for th in prange(n_threads):
        acc = np.empty((row_block, n_u), dtype=src.dtype)
        for task in range(th, n_c * n_rb, n_threads):
            c = task // n_rb
            r_lo = (task - c * n_rb) * row_block
            n_rows = min(row_block, n_r - r_lo)
            acc[:n_rows] = 0
            for k in range(n_rows):
                r = r_lo + k
                _add_row(acc[k], src[c], rows[r], offs[r], ws[r], lanes)
            _store_lanes(out, acc, c, r_lo, n_rows, lanes)


def gather_rows(src: torch.Tensor, items: tuple[np.ndarray, ...], batch: int, n_out: int, lanes: int) -> torch.Tensor:
    """Sum the taps of ``items`` (see :func:`_items`) over a lane-layout ``src``: ``(batch, rows, n_out)``."""
    rows, offs, ws = items
    out = empty((batch, rows.shape[0], n_out), src.dtype)
    n_threads = numba.get_num_threads()
    tasks_per_chunk = 4 * n_threads / src.shape[0]  # aim at >= 4 tasks a thread
    row_block = int(max(1, min(ROW_BLOCK, math.ceil(rows.shape[0] / tasks_per_chunk))))
    _gather(src.numpy(), rows, offs, ws, out.numpy(), lanes, row_block, n_threads)
    return out


@njit(fastmath=True, cache=True)
def _dots4(gr, xr, lo, lanes):  # pragma: no cover - compiled
    """``sum_u gr[u] * xr[V (lo + k) + u]`` for ``k = 0..3``, accumulated in the arrays' dtype."""
    n_u = gr.shape[0]
    a = xr[lo * lanes : lo * lanes + n_u + 3 * lanes]
    t0 = t1 = t2 = t3 = gr.dtype.type(0)  # a float literal would accumulate float32 in float64
    for u in range(n_u):
        gv = gr[u]
        t0 += gv * a[u]
        t1 += gv * a[u + lanes]
        t2 += gv * a[u + 2 * lanes]
        t3 += gv * a[u + 3 * lanes]
    return t0, t1, t2, t3


@njit(fastmath=True, cache=True)
def _dots4_row(gr, xr, lo, lanes):  # pragma: no cover - compiled
    """:func:`_dots4` with the lane count passed as a constant (compile-time shifts)."""
    if lanes == 16:
        return _dots4(gr, xr, lo, 16)
    if lanes == 8:
        return _dots4(gr, xr, lo, 8)
    if lanes == 4:
        return _dots4(gr, xr, lo, 4)
    if lanes == 2:
        return _dots4(gr, xr, lo, 2)
    return _dots4(gr, xr, lo, 1)


@njit(parallel=True, fastmath=True, cache=True)
def _grad_taps(gy, xpad, lo, n_q, n_out, lanes):  # pragma: no cover - compiled
    """``gg[o, i, m, s] = sum_{c, u < n_out V} gy[c, o, u] * xpad[c, i, V (lo[o, i, m] + s) + u]``, ``s < 4 n_q``."""
    n_c, n_o = gy.shape[0], gy.shape[1]
    n_i = xpad.shape[1]
    n_m = lo.shape[2]
    n_u = n_out * lanes
    gg = np.zeros((n_o, n_i, n_m, 4 * n_q), dtype=gy.dtype)
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
                        for q in range(n_q):
                            t0, t1, t2, t3 = _dots4_row(gr, xr, lo[o, i, m] + 4 * q, lanes)
                            gg[o, i, m, 4 * q] += t0
                            gg[o, i, m, 4 * q + 1] += t1
                            gg[o, i, m, 4 * q + 2] += t2
                            gg[o, i, m, 4 * q + 3] += t3
    return gg


def grad_taps(
    gyl: torch.Tensor, xpad: torch.Tensor, lo: torch.Tensor, n_s: int, n_out: int, lanes: int
) -> torch.Tensor:
    """``(O, I, M, S)`` gradient of taps stored in ascending offset: tap ``s`` at ``lo + s``."""
    gg = _grad_taps(gyl.numpy(), xpad.numpy(), lo.contiguous().numpy(), -(-n_s // 4), n_out, lanes)
    return torch.from_numpy(gg)[..., :n_s]


def _items(g: torch.Tensor, lo: torch.Tensor, rows_axis: int, width: int) -> tuple[np.ndarray, ...]:
    """Per-row item lists ``rows (R, N)``, ``offs (R, N)``, ``ws (R, N, width)`` of the gather kernels.

    ``g (O, I, M, S)`` holds the taps in ascending source offset, tap ``s`` at ``lo (O, I, M) + s``
    (steps). Each item is ``width`` consecutive taps of one synapse (``S`` zero-padded to a
    multiple of ``width``); ``N`` is padded with zero items to whole passes of ``FMAS`` taps.
    ``rows_axis`` 0: one list per output ``o`` over sources ``i``; 1: per input ``i`` over ``o``.
    """
    n_o, n_i, n_m, n_s = g.shape
    n_q = -(-n_s // width)
    g = torch.nn.functional.pad(g, (0, n_q * width - n_s)).reshape(n_o, n_i, n_m, n_q, width)
    offs = lo.unsqueeze(-1) + width * torch.arange(n_q)  # (O, I, M, Q)
    src = torch.arange(n_i if rows_axis == 0 else n_o).view((1, -1, 1, 1) if rows_axis == 0 else (-1, 1, 1, 1))
    src = src.expand(n_o, n_i, n_m, n_q)
    if rows_axis == 1:
        g, offs, src = (t.transpose(0, 1) for t in (g, offs, src))
    n_rows = g.shape[0]
    pad = (-(n_m * n_q * g.shape[1])) % (FMAS // width)
    src, offs = (torch.nn.functional.pad(t.reshape(n_rows, -1), (0, pad)) for t in (src, offs))
    ws = torch.nn.functional.pad(g.reshape(n_rows, -1, width), (0, 0, 0, pad))
    return tuple(t.contiguous().numpy() for t in (src, offs, ws))


class TapsConvNumba(torch.autograd.Function):
    """Autograd wrapper: ``x (B, I, T)``, ``g (O, I, M, S)``, ``d0 (O, I, M)`` -> ``(B, O, t_out)``.

    Forward and tap gradient see the taps in ascending offset into ``xpad`` (tap ``j`` at
    ``K - 1 - d0 - j``, so the last tap first); grad-input sees them as they are (``gy`` at ``t + d``).
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, g: torch.Tensor, d0: torch.Tensor, t_out: int, size: int) -> torch.Tensor:
        n_b, _, n_t = x.shape
        n_s = g.shape[3]
        lanes, width = lanes_for(n_b), (WIDTH if n_s >= WIDTH else 1)
        xpad = to_lanes(x, lanes, size - 1, size - 1 + t_out + WIDTH - 1)  # (NB, I, (K+t_out+W-2) V)
        lo = (size - n_s) - d0.long()  # (O, I, M) offset of the last tap
        ctx.save_for_backward(xpad, g, d0)
        ctx.shape = (n_b, n_t, t_out, size, lanes, width)
        return gather_rows(xpad, _items(g.detach().flip(-1), lo, 0, width), n_b, t_out, lanes)  # (B, O, t_out)

    @staticmethod
    def backward(ctx, gy: torch.Tensor):
        xpad, g, d0 = ctx.saved_tensors
        n_b, n_t, t_out, size, lanes, width = ctx.shape
        gyl = to_lanes(gy, lanes, 0, max(t_out, n_t + size - 1) + WIDTH - 1)  # (NB, O, (.) V), zero tail
        gx = gg = None
        if ctx.needs_input_grad[0]:
            gx = gather_rows(gyl, _items(g.detach(), d0.long(), 1, width), n_b, n_t, lanes)  # (B, I, T)
        if ctx.needs_input_grad[1]:
            lo = (size - g.shape[3]) - d0.long()
            gg = grad_taps(gyl, xpad, lo, g.shape[3], t_out, lanes).flip(-1)  # (O, I, M, S)
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


# the dense delay convolution on CPU tensors: per-frequency GEMMs (torch BLAS), not numba code
register("delay.dense", "numba")(dense_spectral)
