"""Numba (CPU) kernels of the ``wkv`` op: fused forward and backward scans.

Work is parallel over (batch row, block of ``BLOCK`` channels); inside a task the scan runs over
the tokens and, at each token, over the block's consecutive channels (contiguous loads of the
``(B, T, C)`` arrays). The scan is the running-maximum form of :mod:`snnlab.functional.wkv`;
every pair of exponentials ``e^{x - max(x, z)}, e^{z - max(x, z)}`` costs one ``exp`` (one of the
two is 1).

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

import math

import numpy as np
import torch
from numba import njit, prange

from snnlab.kernels.registry import register

BLOCK = 16  # channels of one task
NEG = -1e38
_FM = {"nsz", "arcp", "contract", "afn", "reassoc"}  # fast math without assuming finite values


def pair_exp_py(x, z):  # pragma: no cover - compiled (numba here, numba-cuda device function there)
    """``(max(x, z), e^{x - max}, e^{z - max})`` with one exponential."""
    diff = x - z
    e = math.exp(-abs(diff))
    if diff >= 0:
        return x, 1.0, e
    return z, e, 1.0


pair_exp = njit(fastmath=_FM, inline="always")(pair_exp_py)


@njit(parallel=True, fastmath=_FM, cache=True)
def wkv_forward(w, u, k, v, y):  # pragma: no cover - compiled
    """``y (B, T, C) = wkv(w, u, k, v)``."""
    n_b, n_t, n_c = k.shape
    n_blk = (n_c + BLOCK - 1) // BLOCK
    for task in prange(n_b * n_blk):
        b, c0 = task // n_blk, (task % n_blk) * BLOCK
        n = min(BLOCK, n_c - c0)
        aa, bb, pp = np.zeros(n), np.zeros(n), np.full(n, NEG)
        for t in range(n_t):
            for j in range(n):
                c = c0 + j
                kk, vv = k[b, t, c], v[b, t, c]
                _, e1, e2 = pair_exp(pp[j], u[c] + kk)
                y[b, t, c] = (e1 * aa[j] + e2 * vv) / (e1 * bb[j] + e2)
                pp[j], e1, e2 = pair_exp(w[c] + pp[j], kk)
                aa[j] = e1 * aa[j] + e2 * vv
                bb[j] = e1 * bb[j] + e2


@njit(fastmath=_FM, inline="always")
def _forward_sweep(w, u, k, v, gy, b, c0, n, qs, ds, ys, es, gw, gu):  # pragma: no cover - compiled
    """Recompute ``y, q, d, e^{u+k-q}`` of one task into scratch; sum dL/dw and dL/du."""
    aa, bb, pp = np.zeros(n), np.zeros(n), np.full(n, NEG)
    a2, b2 = np.zeros(n), np.zeros(n)  # A', B' on the exponent pp
    for t in range(k.shape[1]):
        for j in range(n):
            c = c0 + j
            kk, vv, g = k[b, t, c], v[b, t, c], gy[b, t, c]
            q, e1, e2 = pair_exp(pp[j], u[c] + kk)
            d = e1 * bb[j] + e2
            yy = (e1 * aa[j] + e2 * vv) / d
            qs[t, j], ds[t, j], ys[t, j], es[t, j] = q, d, yy, e2
            gu[b, c0 + j] += g * e2 * (vv - yy) / d
            gw[b, c0 + j] += g * e1 * (a2[j] - yy * b2[j]) / d
            pp[j], e1, e2 = pair_exp(w[c] + pp[j], kk)
            a2[j] = e1 * (a2[j] + aa[j])
            b2[j] = e1 * (b2[j] + bb[j])
            aa[j] = e1 * aa[j] + e2 * vv
            bb[j] = e1 * bb[j] + e2


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
        z1, z2, m = np.zeros(n), np.zeros(n), np.full(n, NEG)
        for t in range(n_t - 1, -1, -1):
            for j in range(n):
                c = c0 + j
                kk, vv, g = k[b, t, c], v[b, t, c], gy[b, t, c]
                d, yy, direct = ds[t, j], ys[t, j], g * es[t, j] / ds[t, j]
                hist = math.exp(kk + m[j])
                gv[b, t, c] = direct + hist * z1[j]
                gk[b, t, c] = direct * (vv - yy) + hist * (vv * z1[j] - z2[j])
                m[j], e1, e2 = pair_exp(w[c] + m[j], -qs[t, j])
                z1[j] = e1 * z1[j] + e2 * g / d
                z2[j] = e1 * z2[j] + e2 * g * yy / d


def compute_dtype(*tensors: torch.Tensor) -> torch.dtype:
    """float64 stays float64; everything else runs in float32."""
    return torch.float64 if any(t.dtype == torch.float64 for t in tensors) else torch.float32


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


class WKVFunction(torch.autograd.Function):
    """Autograd wrapper of a launcher (numba here, numba-cuda in ``kernels/cuda/wkv.py``)."""

    @staticmethod
    def forward(ctx, w, u, k, v, launcher):  # noqa: D102
        dtype = compute_dtype(w, u, k, v)
        args = [t.detach().to(dtype).contiguous() for t in (w, u, k, v)]
        ctx.save_for_backward(*args)
        ctx.launcher, ctx.dtypes = launcher, (w.dtype, u.dtype, k.dtype, v.dtype)
        return launcher.forward(*args).to(torch.promote_types(k.dtype, v.dtype))

    @staticmethod
    def backward(ctx, gy):  # noqa: D102
        w, u, k, v = ctx.saved_tensors
        gk, gv, gw, gu = ctx.launcher.backward(w, u, k, v, gy.to(k.dtype).contiguous())
        dw, du, dk, dv = ctx.dtypes
        return gw.to(dw), gu.to(du), gk.to(dk), gv.to(dv), None


LAUNCHER = NumbaWKV()


@register("wkv", "numba")
def wkv_numba(w: torch.Tensor, u: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Fused CPU ``wkv``: ``k, v (B, T, C)``, ``w, u (C,)`` -> ``(B, T, C)``."""
    from snnlab.functional.wkv import check_wkv_args

    check_wkv_args(w, u, k, v)
    return WKVFunction.apply(w, u, k, v, LAUNCHER)
