"""Numba (CPU) kernels of the ``wkv`` op: fused forward and backward scans.

Layout. Work is parallel over (batch row, run of ``G`` lane blocks of ``W`` consecutive
channels). At each token a task copies its contiguous row piece of each ``(B, T, C)`` array into
its state array ``st (G, ROWS, W)``, runs the step over every block's ``W`` lanes on ``st`` only
(one base pointer, constant trip count: LLVM vectorises it without runtime alias checks) and
copies the results out, so the arrays are streamed row after row. Float32 inputs are computed in
float32 (eight lanes per AVX2 register; the official CUDA kernel also runs this running-maximum
scan in float32), float64 inputs in float64. Exponentials are the inlined
:func:`snnlab.kernels.numba.vexp.exp_nonpos` (every exponent here is <= 0); every pair
``e^{x - max(x, z)}, e^{z - max(x, z)}`` costs one (one of the two is 1).

Forward: the scan of :mod:`snnlab.functional.wkv`; every ``S`` tokens it also writes the scan
state ``(a, b, p)`` to a checkpoint array ``(B, ceil(T / S), 3, C)`` (3 / S of one input's size).

Backward, per channel (``g = dL/dwkv``, ``D_t`` the output's denominator, ``q_t`` its exponent,
``d_t = D_t e^{-q_t} >= 1``, ``r_t = 1 / d_t``), one reverse pass over segments of ``S``
tokens: from its checkpoint a segment is first recomputed forward (``q, r, y, e^{u+k-q}`` of its
tokens kept in a scratch that stays in cache), then swept in reverse carrying
``R1_t = sum_{s>t} e^{(s-1-t) w} g_s / D_s``, ``R2_t`` (same with ``g_s y_s``) and their
decay-weighted twins ``R1'_t = sum_{s>t} (s-1-t) e^{(s-1-t) w} g_s / D_s``, ``R2'_t``, which obey
``R1_{t-1} = g_t / D_t + e^w R1_t`` and ``R1'_{t-1} = e^w (R1'_t + R1_t)``, all four as ``z e^m``
on one exponent ``m``. Then::

    dL/dv_t = g_t e^{u+k_t} / D_t + e^{k_t} R1_t
    dL/dk_t = g_t e^{u+k_t} (v_t - y_t) / D_t + e^{k_t} (v_t R1_t - R2_t)
    dL/du   = sum_t g_t e^{u+k_t} (v_t - y_t) / D_t
    dL/dw   = sum_t e^{k_t} (v_t R1'_t - R2'_t)

(``dL/dw``: the definition's ``sum_t g_t/D_t sum_{i<t} (t-1-i) e^{(t-1-i) w + k_i} (v_i - y_t)``
summed over ``t`` first.) Every exponent taken is <= 0 (``m_t + k_t <= 0`` because ``q_s`` bounds
every history term); the sums over tokens of ``dL/dw, dL/du`` are kept in float64. Memory traffic
is the op's own: the forward reads ``k, v`` and writes ``y``; the backward reads ``k, v, dL/dy``
and writes ``dL/dk, dL/dv`` (segments are re-read from cache, checkpoints are small).
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
from snnlab.kernels.numba import vexp
from snnlab.kernels.numba.vexp import exp_nonpos
from snnlab.kernels.registry import register

W = 16  # lanes of a block: two AVX2 registers of float32
S = 16  # tokens per checkpointed segment
# rows of a block's state st[g] (ROWS, W): the token's inputs, the scan's state, results
U, WD, KT, VT, GT, AA, BB, PP, Z1, Z2, Y1, Y2, M, OUT1, OUT2, DW, DU = range(17)
ROWS = 17
Q, R, Y, E = range(4)  # rows of a token's block in the backward's segment scratch sc (S, G, 4, W)
ONE, ZERO = np.float32(1.0), np.float32(0.0)  # promote to float64 in float64 kernels
# no reassociation: exp_nonpos's range reduction must stay as written
_JIT = {"fastmath": {"nsz", "arcp", "contract", "afn", "nnan", "ninf"}, "error_model": "numpy"}
# Helpers are inlined into the kernel (numba IR inlining), so that the state arrays' shapes are
# constants there: LLVM then sees the rows of a block at fixed distances (nothing to check).
_INLINE = dict(_JIT, inline="always")
_KERNEL = dict(_JIT, parallel=True, cache=True)
# numba's disk cache does not see the inlined exp's source: its digest is a closure constant
_DIGEST = hashlib.sha1(inspect.getsource(vexp).encode()).hexdigest()[:16]


@njit(**_INLINE)
def _pair(x):  # pragma: no cover - compiled
    """``(e^{min(-x, 0)}, e^{min(x, 0)})``: the scales of both sides of ``x = a - b`` to ``max(a, b)``."""
    e = exp_nonpos(-abs(x))  # <= 1: max() picks 1 on the side that is the maximum, no branch
    return max(e, np.float32(x >= ZERO)), max(e, np.float32(x < ZERO))


@njit(**_INLINE)
def _output(u, kk, vv, aa, bb, pp):  # pragma: no cover - compiled
    """The token's output: ``(q, e^{u+k-q}, 1 / d, y)``."""
    bonus = u + kk
    e1, e2 = _pair(pp - bonus)
    r = ONE / (e1 * bb + e2)
    return max(pp, bonus), e2, r, (e1 * aa + e2 * vv) * r


@njit(**_INLINE)
def _absorb(w, kk, vv, aa, bb, pp):  # pragma: no cover - compiled
    """Fold the token into the history: ``(a, b, p)`` after it."""
    decayed = w + pp
    e1, e2 = _pair(decayed - kk)
    return e1 * aa + e2 * vv, e1 * bb + e2, max(decayed, kk)


@njit(**_INLINE)
def _task_state(w, u, c0, n_g, dtype):  # pragma: no cover - compiled
    """``st (G, ROWS, W)`` at token 0; lanes past ``C`` get w = -1, u = 0 and zero inputs."""
    st = np.zeros((n_g, ROWS, W), dtype)
    for g in range(n_g):
        for j in range(W):
            c = c0 + g * W + j
            st[g, WD, j] = w[c] if c < w.shape[0] else -ONE
            st[g, U, j] = u[c] if c < w.shape[0] else ZERO
            st[g, PP, j] = NEG
            st[g, M, j] = NEG
    return st


@njit(**_INLINE)
def _load(st, row, x, b, t, c0):  # pragma: no cover - compiled
    """``st[:, row]`` = the task's channels of ``x[b, t]``."""
    for g in range(st.shape[0]):
        c = c0 + g * W
        for j in range(min(W, x.shape[2] - c)):
            st[g, row, j] = x[b, t, c + j]


@njit(**_INLINE)
def _store(st, row, x, b, t, c0):  # pragma: no cover - compiled
    for g in range(st.shape[0]):
        c = c0 + g * W
        for j in range(min(W, x.shape[2] - c)):
            x[b, t, c + j] = st[g, row, j]


@njit(**_INLINE)
def _checkpoint(st, ck, b, seg, c0, restore):  # pragma: no cover - compiled
    """Write (or read back) ``a, b, p`` of the task to (from) ``ck[b, seg]`` ``(3, C)``."""
    for g in range(st.shape[0]):
        c = c0 + g * W
        for r in range(3):
            for j in range(min(W, ck.shape[3] - c)):
                if restore:
                    st[g, AA + r, j] = ck[b, seg, r, c + j]
                else:
                    ck[b, seg, r, c + j] = st[g, AA + r, j]


@njit(**_INLINE)
def _forward_token(st):  # pragma: no cover - compiled
    """One token on every block: ``OUT1`` = y; the history absorbs the token."""
    for g in range(st.shape[0]):
        for j in range(W):
            kk, vv, aa, bb, pp = st[g, KT, j], st[g, VT, j], st[g, AA, j], st[g, BB, j], st[g, PP, j]
            st[g, OUT1, j] = _output(st[g, U, j], kk, vv, aa, bb, pp)[3]
            st[g, AA, j], st[g, BB, j], st[g, PP, j] = _absorb(st[g, WD, j], kk, vv, aa, bb, pp)


def _make_forward(digest: str):
    @njit(**_KERNEL)
    def wkv_forward(w, u, k, v, y, ck, n_g):  # pragma: no cover - compiled
        """``y (B, T, C) = wkv(w, u, k, v)``; scan state every S tokens into ``ck``."""
        assert digest != ""
        n_b, n_t, n_c = k.shape
        n_run = math.ceil(n_c / (n_g * W))
        for task in prange(n_b * n_run):
            b, c0 = task // n_run, (task % n_run) * n_g * W
            st = _task_state(w, u, c0, n_g, k.dtype)
            for t in range(n_t):
                if t % S == 0:
                    _checkpoint(st, ck, b, t // S, c0, False)
                _load(st, KT, k, b, t, c0)
                _load(st, VT, v, b, t, c0)
                _forward_token(st)
                _store(st, OUT1, y, b, t, c0)

    return wkv_forward


@njit(**_INLINE)
def _recompute_token(st, sc, s):  # pragma: no cover - compiled
    """One token of a segment's forward recomputation: ``q, 1/d, y, e^{u+k-q}`` into ``sc[s]``."""
    for g in range(st.shape[0]):
        for j in range(W):
            kk, vv, aa, bb, pp = st[g, KT, j], st[g, VT, j], st[g, AA, j], st[g, BB, j], st[g, PP, j]
            sc[s, g, Q, j], sc[s, g, E, j], sc[s, g, R, j], sc[s, g, Y, j] = _output(st[g, U, j], kk, vv, aa, bb, pp)
            st[g, AA, j], st[g, BB, j], st[g, PP, j] = _absorb(st[g, WD, j], kk, vv, aa, bb, pp)


@njit(**_INLINE)
def _reverse_token(st, sc, s, acc):  # pragma: no cover - compiled
    """One token of the reverse sweep: ``OUT1, OUT2`` = dL/dv, dL/dk; dL/dw, dL/du terms into ``acc``."""
    for g in range(st.shape[0]):
        for j in range(W):
            m, kk, vv, yy = st[g, M, j], st[g, KT, j], st[g, VT, j], sc[s, g, Y, j]
            z1, z2, y1, y2 = st[g, Z1, j], st[g, Z2, j], st[g, Y1, j], st[g, Y2, j]
            hist = exp_nonpos(min(kk + m, ZERO))  # <= 0 exactly; min() absorbs rounding
            decayed, q = st[g, WD, j] + m, sc[s, g, Q, j]
            e1, e2 = _pair(decayed + q)
            st[g, M, j] = max(decayed, -q)
            gr = st[g, GT, j] * sc[s, g, R, j]  # g_t / d_t
            direct = gr * sc[s, g, E, j]
            st[g, OUT1, j] = direct + hist * z1
            st[g, OUT2, j] = direct * (vv - yy) + hist * (vv * z1 - z2)
            st[g, DW, j] = hist * (vv * y1 - y2)
            st[g, DU, j] = direct * (vv - yy)
            st[g, Y1, j], st[g, Y2, j] = e1 * (y1 + z1), e1 * (y2 + z2)
            st[g, Z1, j], st[g, Z2, j] = e1 * z1 + e2 * gr, e1 * z2 + e2 * gr * yy
        for j in range(W):
            acc[g, 0, j] += st[g, DW, j]
            acc[g, 1, j] += st[g, DU, j]


@njit(**_INLINE)
def _segment(k, v, gy, gk, gv, b, c0, t0, n_s, st, sc, acc):  # pragma: no cover - compiled
    """Recompute tokens ``t0 .. t0 + n_s - 1`` from their checkpoint, then sweep them in reverse."""
    for s in range(n_s):
        _load(st, KT, k, b, t0 + s, c0)
        _load(st, VT, v, b, t0 + s, c0)
        _recompute_token(st, sc, s)
    for s in range(n_s - 1, -1, -1):
        _load(st, KT, k, b, t0 + s, c0)
        _load(st, VT, v, b, t0 + s, c0)
        _load(st, GT, gy, b, t0 + s, c0)
        _reverse_token(st, sc, s, acc)
        _store(st, OUT1, gv, b, t0 + s, c0)
        _store(st, OUT2, gk, b, t0 + s, c0)


def _make_backward(digest: str):
    @njit(**_KERNEL)
    def wkv_backward(w, u, k, v, gy, ck, gk, gv, gw, gu, n_g):  # pragma: no cover - compiled
        """``gk, gv (B, T, C)``; ``gw, gu (B, C)`` float64 partial sums over the batch rows."""
        assert digest != ""
        n_b, n_t, n_c = k.shape
        n_run = math.ceil(n_c / (n_g * W))
        for task in prange(n_b * n_run):
            b, c0 = task // n_run, (task % n_run) * n_g * W
            st = _task_state(w, u, c0, n_g, k.dtype)
            sc = np.empty((S, n_g, 4, W), k.dtype)
            acc = np.zeros((n_g, 2, W))  # float64: dL/dw, dL/du sums of each block
            for seg in range(ck.shape[1] - 1, -1, -1):
                _checkpoint(st, ck, b, seg, c0, True)
                _segment(k, v, gy, gk, gv, b, c0, seg * S, min(S, n_t - seg * S), st, sc, acc)
            for i in range(min(n_g * W, n_c - c0)):
                gw[b, c0 + i], gu[b, c0 + i] = acc[i // W, 0, i % W], acc[i // W, 1, i % W]

    return wkv_backward


wkv_forward = _make_forward(_DIGEST)
wkv_backward = _make_backward(_DIGEST)


def blocks_per_task(B: int, C: int) -> int:
    """Lane blocks per task: whole rows when the batch alone keeps the threads busy, else split."""
    blocks = math.ceil(C / W)
    splits = min(blocks, math.ceil(2 * numba.get_num_threads() / max(B, 1)))
    return math.ceil(blocks / splits)


class NumbaWKV:
    """Launches the CPU kernels on contiguous tensors of one dtype."""

    name = "numba"

    def forward(self, w, u, k, v):
        B, T, C = k.shape
        y = pool.empty(k.shape, k.dtype)
        ck = torch.empty(B, math.ceil(T / S), 3, C, dtype=k.dtype)
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
