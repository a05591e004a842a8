"""Numba (CPU) kernels of the ``wkv`` op: fused forward and backward scans.

Work is parallel over (batch row, block of ``BLOCK`` channels); inside a task the scan runs over
the tokens and, at each token, over the block's consecutive channels (contiguous loads of the
``(B, T, C)`` arrays). The scan is the running-maximum form of :mod:`snnlab.functional.wkv`
(pieces shared with the cuda kernels in :mod:`snnlab.kernels.common.wkv`);
every pair of exponentials ``e^{x - max(x, z)}, e^{z - max(x, z)}`` costs one ``exp`` (one of the
two is 1), and the exponentials of a token are taken for the whole channel block at once by the
vectorisable :func:`snnlab.kernels.numba.vexp.exp_nonpos` (every exponent here is <= 0).

Backward, per channel (``g = dL/dwkv``, ``D_t`` the output's denominator, ``q_t`` its exponent,
``d_t = D_t e^{-q_t} >= 1``). A forward sweep recomputes ``y, q, d`` (kept in scratch
arrays) and sums ``dL/du`` and ``dL/dw``; for ``dL/dw`` it carries the decay-weighted sums
``A'_t = sum_{i<t} (t-1-i) e^{(t-1-i) w + k_i} v_i`` (and ``B'_t`` without ``v_i``), which obey
``A'_{t+1} = e^w (A'_t + a_t)``, on the same exponent as ``a_t``. A reverse sweep carries
``R1_t = sum_{s>t} e^{(s-1-t) w} g_s / D_s`` and ``R2_t`` (same with ``g_s y_s``) as
``z e^m``; then::

    dL/dv_t = g_t e^{u+k_t} / D_t + e^{k_t} R1_t
    dL/dk_t = g_t e^{u+k_t} (v_t - y_t) / D_t + e^{k_t} (v_t R1_t - R2_t)
    dL/du   = sum_t g_t e^{u+k_t} (v_t - y_t) / D_t
    dL/dw   = sum_t g_t (A'_t - y_t B'_t) / D_t

Every exponent taken is <= 0 (``m_t + k_t <= 0`` because ``q_s`` bounds every history term).
"""

from __future__ import annotations

import numpy as np
import torch
from numba import njit, prange

from snnlab.kernels.common.wkv import NEG, WKVFunction
from snnlab.kernels.numba.vexp import exp_nonpos
from snnlab.kernels.registry import register

BLOCK = 16  # channels of one task
_FM = {"nsz", "arcp", "contract", "afn"}  # no finite-math or reassociation (exp_nonpos rounds by adding a constant)


@njit(fastmath=_FM, inline="always")
def _pick(dif, e):  # pragma: no cover - compiled
    """``(e1, e2)`` of a one-exp pair: ``dif = x - z >= 0`` means ``x`` is the max."""
    return (1.0, e) if dif >= 0 else (e, 1.0)


@njit(fastmath=_FM, inline="always")
def _scratch(n):  # pragma: no cover - compiled
    """Argument, difference, result and rounding buffers of the block's exponentials."""
    rnd = np.empty(n)
    return np.empty(n), np.empty(n), np.empty(n), rnd, rnd.view(np.int64)


@njit(parallel=True, fastmath=_FM, cache=True)
def wkv_forward(w, u, k, v, y):  # pragma: no cover - compiled
    """``y (B, T, C) = wkv(w, u, k, v)``."""
    n_b, n_t, n_c = k.shape
    n_blk = (n_c + BLOCK - 1) // BLOCK
    for task in prange(n_b * n_blk):
        b, c0 = task // n_blk, (task % n_blk) * BLOCK
        n = min(BLOCK, n_c - c0)
        aa, bb, pp = np.zeros(n), np.zeros(n), np.full(n, NEG)
        arg, dif, ex, rnd, bits = _scratch(n)
        for t in range(n_t):
            kt, vt, yt = k[b, t, c0 : c0 + n], v[b, t, c0 : c0 + n], y[b, t, c0 : c0 + n]
            for j in range(n):
                dif[j] = pp[j] - (u[c0 + j] + kt[j])
                arg[j] = -abs(dif[j])
            exp_nonpos(arg, ex, rnd, bits)
            for j in range(n):
                e1, e2 = _pick(dif[j], ex[j])
                yt[j] = (e1 * aa[j] + e2 * vt[j]) / (e1 * bb[j] + e2)
                decayed = w[c0 + j] + pp[j]
                dif[j] = decayed - kt[j]
                arg[j] = -abs(dif[j])
                pp[j] = max(decayed, kt[j])
            exp_nonpos(arg, ex, rnd, bits)
            for j in range(n):
                e1, e2 = _pick(dif[j], ex[j])
                aa[j] = e1 * aa[j] + e2 * vt[j]
                bb[j] = e1 * bb[j] + e2


@njit(fastmath=_FM, inline="always")
def _forward_sweep(w, u, k, v, gy, b, c0, n, qs, ds, ys, es, gw, gu):  # pragma: no cover - compiled
    """Recompute ``y, q, d, e^{u+k-q}`` of one task into scratch; sum dL/dw and dL/du."""
    aa, bb, pp = np.zeros(n), np.zeros(n), np.full(n, NEG)
    a2, b2 = np.zeros(n), np.zeros(n)  # A', B' on the exponent pp
    arg, dif, ex, rnd, bits = _scratch(n)
    for t in range(k.shape[1]):
        kt, vt, gt = k[b, t, c0 : c0 + n], v[b, t, c0 : c0 + n], gy[b, t, c0 : c0 + n]
        for j in range(n):
            bonus = u[c0 + j] + kt[j]
            dif[j] = pp[j] - bonus
            arg[j] = -abs(dif[j])
            qs[t, j] = max(pp[j], bonus)
        exp_nonpos(arg, ex, rnd, bits)
        for j in range(n):
            e1, e2 = _pick(dif[j], ex[j])
            d = e1 * bb[j] + e2
            yy = (e1 * aa[j] + e2 * vt[j]) / d
            ds[t, j], ys[t, j], es[t, j] = d, yy, e2
            gu[b, c0 + j] += gt[j] * e2 * (vt[j] - yy) / d
            gw[b, c0 + j] += gt[j] * e1 * (a2[j] - yy * b2[j]) / d
            decayed = w[c0 + j] + pp[j]
            dif[j] = decayed - kt[j]
            arg[j] = -abs(dif[j])
            pp[j] = max(decayed, kt[j])
        exp_nonpos(arg, ex, rnd, bits)
        for j in range(n):
            e1, e2 = _pick(dif[j], ex[j])
            a2[j] = e1 * (a2[j] + aa[j])
            b2[j] = e1 * (b2[j] + bb[j])
            aa[j] = e1 * aa[j] + e2 * vt[j]
            bb[j] = e1 * bb[j] + e2


@njit(fastmath=_FM, inline="always")
def _reverse_sweep(w, k, v, gy, gk, gv, b, c0, n, qs, ds, ys, es):  # pragma: no cover - compiled
    """dL/dk and dL/dv of one task from the scratch of the forward sweep."""
    z1, z2, m = np.zeros(n), np.zeros(n), np.full(n, NEG)
    arg, dif, ex, rnd, bits = _scratch(n)
    harg, hist = np.empty(n), np.empty(n)
    for t in range(k.shape[1] - 1, -1, -1):
        kt, vt, gt = k[b, t, c0 : c0 + n], v[b, t, c0 : c0 + n], gy[b, t, c0 : c0 + n]
        for j in range(n):
            harg[j] = min(kt[j] + m[j], 0.0)  # <= 0 exactly; min() absorbs rounding
            decayed = w[c0 + j] + m[j]
            dif[j] = decayed + qs[t, j]
            arg[j] = -abs(dif[j])
            m[j] = max(decayed, -qs[t, j])
        exp_nonpos(harg, hist, rnd, bits)
        exp_nonpos(arg, ex, rnd, bits)
        gkt, gvt = gk[b, t, c0 : c0 + n], gv[b, t, c0 : c0 + n]
        for j in range(n):
            d, yy, g = ds[t, j], ys[t, j], gt[j]
            direct = g * es[t, j] / d
            gvt[j] = direct + hist[j] * z1[j]
            gkt[j] = direct * (vt[j] - yy) + hist[j] * (vt[j] * z1[j] - z2[j])
            e1, e2 = _pick(dif[j], ex[j])
            z1[j] = e1 * z1[j] + e2 * g / d
            z2[j] = e1 * z2[j] + e2 * g * yy / d


@njit(parallel=True, fastmath=_FM, cache=True)
def wkv_backward(w, u, k, v, gy, gk, gv, gw, gu):  # pragma: no cover - compiled
    """``gk, gv (B, T, C)``; ``gw, gu (B, C)`` float64 partial sums over the batch rows."""
    n_b, n_t, n_c = k.shape
    n_blk = (n_c + BLOCK - 1) // BLOCK
    for task in prange(n_b * n_blk):
        b, c0 = task // n_blk, (task % n_blk) * BLOCK
        n = min(BLOCK, n_c - c0)
        qs, ds, ys, es = np.empty((n_t, n)), np.empty((n_t, n)), np.empty((n_t, n)), np.empty((n_t, n))
        _forward_sweep(w, u, k, v, gy, b, c0, n, qs, ds, ys, es, gw, gu)
        _reverse_sweep(w, k, v, gy, gk, gv, b, c0, n, qs, ds, ys, es)


class NumbaWKV:
    """Launches the CPU kernels on contiguous tensors of one dtype."""

    name = "numba"

    def forward(self, w, u, k, v):
        y = torch.empty_like(k)
        if k.numel():
            wkv_forward(w.numpy(), u.numpy(), k.numpy(), v.numpy(), y.numpy())
        return y

    def backward(self, w, u, k, v, gy):
        gk, gv = torch.zeros_like(k), torch.zeros_like(v)
        gw = torch.zeros(k.shape[0], k.shape[2], dtype=torch.float64)
        gu = torch.zeros_like(gw)
        if k.numel():
            wkv_backward(*(t.numpy() for t in (w, u, k, v, gy, gk, gv, gw, gu)))
        return gk, gv, gw.sum(0), gu.sum(0)


LAUNCHER = NumbaWKV()


@register("wkv", "numba")
def wkv_numba(w: torch.Tensor, u: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Fused CPU ``wkv``: ``k, v (B, T, C)``, ``w, u (C,)`` -> ``(B, T, C)``."""
    from snnlab.functional.wkv import check_wkv_args

    check_wkv_args(w, u, k, v)
    return WKVFunction.apply(w, u, k, v, LAUNCHER)
