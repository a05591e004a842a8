"""Numba (CPU) kernels of the ``wkv`` op: fused forward and backward scans.

Layout. Work is parallel over (batch row, run of ``G`` lane blocks of ``CB`` consecutive
channels); C is the contiguous axis of ``(B, T, C)``, so a task that owns whole rows streams its
arrays front to back. At each token the step runs over each block's ``CB`` lanes as one
straight-line loop on contiguous views (the token's row of ``k, v, ...`` and the block's state
``st[g] (ROWS, CB)``, rows at constant distances): LLVM vectorises it (eight float32 lanes per
AVX2 register) with one runtime overlap check per block. A last partial block is staged through
zero-padded rows of its state. Float32 inputs are computed in float32 (as the official CUDA
kernel), float64 inputs in float64. Exponentials are the inlined
:func:`snnlab.kernels.numba.vexp.exp_nonpos` (every exponent here is <= 0); of each pair
``e^{x - max(x, z)}, e^{z - max(x, z)}`` one is 1, so a pair costs one exp and a select.

Forward, per channel: the running-maximum scan of :mod:`snnlab.functional.wkv`, state
``(a, b, p)`` (numerator and denominator of the history in units of ``e^p``). At token ``t``
(``p`` the state's exponent before it, ``p'`` after) it computes two exponentials::

    q = max(p, u + k),   e_o1 = e^{p - q},       e_o2 = e^{u + k - q}
    d = e_o1 b + e_o2,   y = (e_o1 a + e_o2 v) / d
    p' = max(w + p, k),  e_a1 = e^{w + p - p'},  e_a2 = e^{k - p'}
    a' = e_a1 a + e_a2 v,  b' = e_a1 b + e_a2

and every ``S`` tokens it writes the state ``(a, b, p)`` to a checkpoint array
``(B, ceil(T / S), 3, C)`` (3 / S of one input's size).

Backward (``g = dL/dy``, ``D_t = d_t e^{q_t}`` the output's denominator), one reverse pass over
segments of ``S`` tokens: a segment is recomputed from its checkpoint (the two exponentials
per token above, kept with ``y`` in a scratch that stays in cache), then swept in reverse with
no exponential at all. The reverse sums ``R1_t = sum_{s>t} e^{(s-1-t) w} g_s / D_s``, ``R2_t``
(same with ``g_s y_s``) and their decay-weighted twins ``R1'_t = sum_{s>t} (s-1-t) e^{(s-1-t) w}
g_s / D_s``, ``R2'_t`` are carried in units of the forward's own scale, ``Z_t = e^{p_{t+1}} R_t``:
every factor of their recursions is then one of the forward's exponentials (all <= 1)::

    Z1_{t-1} = e_o1 g_t / d_t + e_a1 Z1_t        Z1'_{t-1} = e_a1 (Z1'_t + Z1_t)
    Z2_{t-1} = e_o1 g_t y_t / d_t + e_a1 Z2_t    Z2'_{t-1} = e_a1 (Z2'_t + Z2_t)
    dL/dv_t = g_t e_o2 / d_t + e_a2 Z1_t
    dL/dk_t = g_t e_o2 (v_t - y_t) / d_t + e_a2 (v_t Z1_t - Z2_t)
    dL/du   = sum_t g_t e_o2 (v_t - y_t) / d_t
    dL/dw   = sum_t e_a2 (v_t Z1'_t - Z2'_t)

(``e_a2 Z_t = e^{k_t} R_t``; ``dL/dw`` is the definition's ``sum_t g_t / D_t sum_{i<t} (t-1-i)
e^{(t-1-i) w + k_i} (v_i - y_t)`` summed over ``t`` first.) ``Z`` cannot overflow (``p`` bounds
every later history exponent: ``p_{t+1} + (s-1-t) w <= p_s <= q_s``) and underflows only where
the true term is below the float's range. The sums over tokens of ``dL/dw, dL/du`` are
accumulated per segment in the compute dtype and across segments in float64. Memory traffic is
the op's own (forward reads ``k, v``, writes ``y``; backward reads ``k, v, dL/dy``, writes
``dL/dk, dL/dv``) plus the checkpoints; segments are re-read from cache. The reverse sweep
walks its arrays downwards, which the hardware prefetchers serve late (the stores' write-allocate
reads above all): it prefetches its rows of ``dL/dy, dL/dk, dL/dv`` ``PD`` tokens ahead.
"""

from __future__ import annotations

import hashlib
import inspect
import math

import numba
import numpy as np
import torch
from numba import njit, prange

from snnlab.kernels import pool
from snnlab.kernels.common.wkv import NEG, WKVFunction
from snnlab.kernels.numba import memops, vexp
from snnlab.kernels.numba.memops import prefetch, prefetch_write
from snnlab.kernels.numba.vexp import exp_nonpos
from snnlab.kernels.registry import register

CB = 64  # lanes of a block: eight AVX2 registers of float32
S = 16  # tokens per checkpointed segment
LINE = 64  # bytes of a cache line
PD = 4  # tokens ahead that the reverse sweep prefetches its rows of dL/dy, dL/dk, dL/dv
# rows of a block's state st[g] (ROWS, CB): parameters, scan state, reverse sums, staging rows of a partial block
WD, U, AA, BB, PP, Z1, Z2, Z1P, Z2P, DW, DU, KT, VT, GT, O1, O2 = range(16)
ROWS = 16
Y, RG1, RG2, EA1, EA2 = range(5)  # rows of a token's block in the backward's segment scratch sc (S, G, 5, CB)
ONE, ZERO = np.float32(1.0), np.float32(0.0)  # promote to float64 in float64 kernels
# no reassociation: exp_nonpos's range reduction must stay as written
_JIT = {"fastmath": {"nsz", "contract", "afn", "nnan", "ninf"}, "error_model": "numpy"}
# Helpers are inlined into the kernel (numba IR inlining), so that the state arrays' shapes are
# constants there: LLVM then sees the rows of a block at fixed distances (nothing to check).
_INLINE = dict(_JIT, inline="always")
_KERNEL = dict(_JIT, parallel=True, cache=True)
# numba's disk cache does not see the inlined exp's source: its digest is a closure constant
_DIGEST = hashlib.sha1((inspect.getsource(vexp) + inspect.getsource(memops)).encode()).hexdigest()[:16]


@njit(**_INLINE)
def _pair(x):  # pragma: no cover - compiled
    """``(e^{min(-x, 0)}, e^{min(x, 0)})``: the scales of both sides of ``x = a - b`` to ``max(a, b)``."""
    e = exp_nonpos(-abs(x))
    up = x >= ZERO
    return ONE if up else e, e if up else ONE  # selects, no branch


@njit(**_INLINE)
def _step(w, u, kk, vv, aa, bb, pp):  # pragma: no cover - compiled
    """One token of the scan: ``(y, e_o1 / d, e_o2 / d, e_a1, e_a2, a', b', p')`` (module docstring)."""
    o1, o2 = _pair(pp - (u + kk))
    r = ONE / (o1 * bb + o2)
    decayed = w + pp
    a1, a2 = _pair(decayed - kk)
    return (o1 * aa + o2 * vv) * r, o1 * r, o2 * r, a1, a2, a1 * aa + a2 * vv, a1 * bb + a2, max(decayed, kk)


@njit(**_INLINE)
def _task_state(w, u, c0, n_g, dtype):  # pragma: no cover - compiled
    """``st (G, ROWS, CB)`` at token 0; lanes past ``C`` get w = -1, u = 0 and zero inputs."""
    st = np.zeros((n_g, ROWS, CB), dtype)
    for g in range(n_g):
        for j in range(CB):
            c = c0 + g * CB + j
            st[g, WD, j] = w[c] if c < w.shape[0] else -ONE
            st[g, U, j] = u[c] if c < w.shape[0] else ZERO
            st[g, PP, j] = NEG
    return st


@njit(**_INLINE)
def _stage(x, b, t, c, sg, row):  # pragma: no cover - compiled
    """Copy the partial last block ``x[b, t, c:]`` into ``sg[row]`` (its padding stays zero)."""
    for j in range(x.shape[2] - c):
        sg[row, j] = x[b, t, c + j]


@njit(**_INLINE)
def _unstage(x, b, t, c, sg, row):  # pragma: no cover - compiled
    """Copy the partial last block's output ``sg[row]`` to ``x[b, t, c:]``."""
    for j in range(x.shape[2] - c):
        x[b, t, c + j] = sg[row, j]


@njit(**_INLINE)
def _checkpoint(st, ck, b, seg, c0, restore):  # pragma: no cover - compiled
    """Write (or read back) ``a, b, p`` of the task to (from) ``ck[b, seg]`` ``(3, C)``."""
    for g in range(st.shape[0]):
        c = c0 + g * CB
        for r in range(3):
            for j in range(min(CB, ck.shape[3] - c)):
                if restore:
                    st[g, AA + r, j] = ck[b, seg, r, c + j]
                else:
                    ck[b, seg, r, c + j] = st[g, AA + r, j]


@njit(**_INLINE)
def _forward_block(sg, kt, vt, yt):  # pragma: no cover - compiled
    """One token on one block: ``yt`` = y; the block's history absorbs the token."""
    for j in range(CB):
        out = _step(sg[WD, j], sg[U, j], kt[j], vt[j], sg[AA, j], sg[BB, j], sg[PP, j])
        yt[j], sg[AA, j], sg[BB, j], sg[PP, j] = out[0], out[5], out[6], out[7]


@njit(**_INLINE)
def _forward_token(st, k, v, y, b, t, c0, n_full):  # pragma: no cover - compiled
    """One token on every block of the task: ``n_full`` whole blocks on views, then a partial one staged."""
    for g in range(n_full):
        c = c0 + g * CB
        _forward_block(st[g], k[b, t, c : c + CB], v[b, t, c : c + CB], y[b, t, c : c + CB])
    if n_full < st.shape[0]:
        c, sg = c0 + n_full * CB, st[n_full]
        _stage(k, b, t, c, sg, KT)
        _stage(v, b, t, c, sg, VT)
        _forward_block(sg, sg[KT], sg[VT], sg[O1])
        _unstage(y, b, t, c, sg, O1)


def _make_forward(digest: str):
    @njit(**_KERNEL)
    def wkv_forward(w, u, k, v, y, ck, n_g):  # pragma: no cover - compiled
        """``y (B, T, C) = wkv(w, u, k, v)``; scan state every S tokens into ``ck``."""
        assert digest != ""
        n_b, n_t, n_c = k.shape
        n_run = math.ceil(n_c / (n_g * CB))
        for task in prange(n_b * n_run):
            b, c0 = task // n_run, (task % n_run) * n_g * CB
            n_own, n_full = min(n_g, math.ceil((n_c - c0) / CB)), min(n_g, (n_c - c0) // CB)
            st = _task_state(w, u, c0, n_own, k.dtype)
            for t in range(n_t):
                if t % S == 0:
                    _checkpoint(st, ck, b, t // S, c0, False)
                _forward_token(st, k, v, y, b, t, c0, n_full)

    return wkv_forward


@njit(**_INLINE)
def _recompute_block(sg, kt, vt, sc):  # pragma: no cover - compiled
    """One token of a segment's recomputation on one block: ``y, e_o1/d, e_o2/d, e_a1, e_a2`` into ``sc (5, CB)``."""
    for j in range(CB):
        out = _step(sg[WD, j], sg[U, j], kt[j], vt[j], sg[AA, j], sg[BB, j], sg[PP, j])
        sc[Y, j], sc[RG1, j], sc[RG2, j], sc[EA1, j], sc[EA2, j] = out[0], out[1], out[2], out[3], out[4]
        sg[AA, j], sg[BB, j], sg[PP, j] = out[5], out[6], out[7]


@njit(**_INLINE)
def _reverse_block(sg, vt, gt, sc, gk, gv):  # pragma: no cover - compiled
    """One token of the reverse sweep on one block: ``gk, gv`` = dL/dk, dL/dv; dL/dw, dL/du terms summed in ``sg``."""
    for j in range(CB):
        vv, gg, yy, a1, a2 = vt[j], gt[j], sc[Y, j], sc[EA1, j], sc[EA2, j]
        z1, z2, z1p, z2p = sg[Z1, j], sg[Z2, j], sg[Z1P, j], sg[Z2P, j]
        direct = gg * sc[RG2, j]
        dy = direct * (vv - yy)
        gv[j] = direct + a2 * z1
        gk[j] = dy + a2 * (vv * z1 - z2)
        sg[DW, j] += a2 * (vv * z1p - z2p)
        sg[DU, j] += dy
        gr = gg * sc[RG1, j]
        sg[Z1P, j], sg[Z2P, j] = a1 * (z1p + z1), a1 * (z2p + z2)
        sg[Z1, j], sg[Z2, j] = a1 * z1 + gr, a1 * z2 + gr * yy


@njit(**_INLINE)
def _recompute_token(st, k, v, sc, b, t, c0, n_full):  # pragma: no cover - compiled
    """One token of a segment's recomputation on every block of the task (``sc (G, 5, CB)``)."""
    for g in range(n_full):
        c = c0 + g * CB
        _recompute_block(st[g], k[b, t, c : c + CB], v[b, t, c : c + CB], sc[g])
    if n_full < st.shape[0]:
        c, sg = c0 + n_full * CB, st[n_full]
        _stage(k, b, t, c, sg, KT)
        _stage(v, b, t, c, sg, VT)
        _recompute_block(sg, sg[KT], sg[VT], sc[n_full])


@njit(**_INLINE)
def _reverse_token(st, v, gy, sc, gk, gv, b, t, c0, n_full):  # pragma: no cover - compiled
    """One token of the reverse sweep on every block of the task."""
    for g in range(n_full):
        c = c0 + g * CB
        vt, gt = v[b, t, c : c + CB], gy[b, t, c : c + CB]
        _reverse_block(st[g], vt, gt, sc[g], gk[b, t, c : c + CB], gv[b, t, c : c + CB])
        # rows PD tokens further back in the sweep: their lines arrive while this token is computed
        tp = max(t - PD, 0)
        gn, kn, vn = gy[b, tp, c : c + CB], gk[b, tp, c : c + CB], gv[b, tp, c : c + CB]
        for j in range(0, CB, LINE // gy.itemsize):
            prefetch(gn, j)
            prefetch_write(kn, j)
            prefetch_write(vn, j)
    if n_full < st.shape[0]:
        c, sg = c0 + n_full * CB, st[n_full]
        _stage(v, b, t, c, sg, VT)
        _stage(gy, b, t, c, sg, GT)
        _reverse_block(sg, sg[VT], sg[GT], sc[n_full], sg[O1], sg[O2])
        _unstage(gk, b, t, c, sg, O1)
        _unstage(gv, b, t, c, sg, O2)


@njit(**_INLINE)
def _segment(k, v, gy, gk, gv, b, c0, t0, n_s, n_full, st, sc):  # pragma: no cover - compiled
    """Recompute tokens ``t0 .. t0 + n_s - 1`` from their checkpoint, then sweep them in reverse."""
    for s in range(n_s):
        _recompute_token(st, k, v, sc[s], b, t0 + s, c0, n_full)
    for s in range(n_s - 1, -1, -1):
        _reverse_token(st, v, gy, sc[s], gk, gv, b, t0 + s, c0, n_full)


@njit(**_INLINE)
def _add_sums(st, acc):  # pragma: no cover - compiled
    """Add the segment's dL/dw, dL/du sums of every block to the float64 ``acc (G, 2, CB)``; restart them."""
    for g in range(st.shape[0]):
        for j in range(CB):
            acc[g, 0, j] += st[g, DW, j]
            acc[g, 1, j] += st[g, DU, j]
            st[g, DW, j], st[g, DU, j] = ZERO, ZERO


def _make_backward(digest: str):
    @njit(**_KERNEL)
    def wkv_backward(w, u, k, v, gy, ck, gk, gv, gw, gu, n_g):  # pragma: no cover - compiled
        """``gk, gv (B, T, C)``; ``gw, gu (B, C)`` float64 partial sums over the batch rows."""
        assert digest != ""
        n_b, n_t, n_c = k.shape
        n_run = math.ceil(n_c / (n_g * CB))
        for task in prange(n_b * n_run):
            b, c0 = task // n_run, (task % n_run) * n_g * CB
            n_own, n_full = min(n_g, math.ceil((n_c - c0) / CB)), min(n_g, (n_c - c0) // CB)
            st = _task_state(w, u, c0, n_own, k.dtype)
            sc = np.empty((S, n_own, 5, CB), k.dtype)
            acc = np.zeros((n_own, 2, CB))  # float64: dL/dw, dL/du sums of each block
            for seg in range(ck.shape[1] - 1, -1, -1):
                _checkpoint(st, ck, b, seg, c0, True)
                _segment(k, v, gy, gk, gv, b, c0, seg * S, min(S, n_t - seg * S), n_full, st, sc)
                _add_sums(st, acc)
            for i in range(min(n_own * CB, n_c - c0)):
                gw[b, c0 + i], gu[b, c0 + i] = acc[i // CB, 0, i % CB], acc[i // CB, 1, i % CB]

    return wkv_backward


wkv_forward = _make_forward(_DIGEST)
wkv_backward = _make_backward(_DIGEST)


def blocks_per_task(B: int, C: int) -> int:
    """Lane blocks per task: whole rows when the batch alone keeps the threads busy, else split."""
    blocks = math.ceil(C / CB)
    splits = min(blocks, math.ceil(2 * numba.get_num_threads() / max(B, 1)))
    return math.ceil(blocks / splits)


class NumbaWKV:
    """Launches the CPU kernels on contiguous tensors of one dtype."""

    name = "numba"

    def forward(self, w, u, k, v):
        B, T, C = k.shape
        y = pool.empty(k.shape, k.dtype)
        ck = pool.empty((B, math.ceil(T / S), 3, C), k.dtype)  # resident pages, reused across calls
        if k.numel():
            wkv_forward(*(t.numpy() for t in (w, u, k, v, y, ck)), blocks_per_task(B, C))
        return y, (ck,)

    def backward(self, w, u, k, v, gy, ck):
        B, _, C = k.shape
        gk, gv = pool.empty(k.shape, k.dtype), pool.empty(k.shape, k.dtype)
        gw = torch.zeros(B, C, dtype=torch.float64)
        gu = torch.zeros_like(gw)
        if k.numel():
            args = (w, u, k, v, gy, ck, gk, gv, gw, gu)
            wkv_backward(*(t.numpy() for t in args), blocks_per_task(B, C))
        return gk, gv, gw.sum(0), gu.sum(0)


LAUNCHER = NumbaWKV()


@register("wkv", "numba")
def wkv_numba(w: torch.Tensor, u: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Fused CPU ``wkv``: ``k, v (B, T, C)``, ``w, u (C,)`` -> ``(B, T, C)``."""
    from snnlab.functional.wkv import check_wkv_args

    check_wkv_args(w, u, k, v)
    return WKVFunction.apply(w, u, k, v, LAUNCHER)
