"""numba-cuda kernels of the ``wkv`` op: one thread per (batch row, channel).

The scans are those of :mod:`snnlab.kernels.numba.wkv`'s docstring (same equations, same
one-``exp`` pairs); at every token consecutive threads read consecutive channels (coalesced).
float32 inputs are computed in float32, like the official CUDA kernel (the running maximum keeps
every exponent <= 0, so float32 is as stable as float64 there); the sums of ``dL/dw`` and
``dL/du`` over the tokens are float64. Kernels are compiled per dtype with typed constants. The
backward's forward sweep keeps ``y, q, d, e^{u+k-q}`` in global scratch arrays ``(B, T, C)`` for
the reverse sweep, and writes per-row partial sums of ``dL/dw``, ``dL/du`` ``(B, C)`` that torch
adds up (no atomics, deterministic).

Runs on CUDA tensors in place (``__cuda_array_interface__``) on torch's current stream, or under
``NUMBA_ENABLE_CUDASIM=1`` on the host arrays of CPU tensors (how the tests run it).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from numba import cuda

from snnlab.errors import BackendError
from snnlab.kernels import cuda as backend
from snnlab.kernels.common.wkv import NEG, WKVFunction
from snnlab.kernels.registry import register

THREADS_PER_BLOCK = 128


def _make_kernels(dt: type) -> tuple:
    """The three kernels computing in numpy type ``dt`` (float32 or float64)."""
    zero, one, neg = dt(0.0), dt(1.0), dt(NEG)

    @cuda.jit(device=True)
    def pair_exp(x, z):  # pragma: no cover - compiled
        """``(max(x, z), e^{x - max}, e^{z - max})`` with one exponential."""
        diff = x - z
        e = math.exp(-abs(diff))
        if diff >= zero:
            return x, one, e
        return z, e, one

    @cuda.jit
    def wkv_forward(w, u, k, v, y):  # pragma: no cover - compiled
        i = cuda.grid(1)
        n_b, n_t, n_c = k.shape
        if i >= n_b * n_c:
            return
        b, c = i // n_c, i % n_c
        aa, bb, pp = zero, zero, neg
        for t in range(n_t):
            kk, vv = k[b, t, c], v[b, t, c]
            _, e1, e2 = pair_exp(pp, u[c] + kk)
            y[b, t, c] = (e1 * aa + e2 * vv) / (e1 * bb + e2)
            pp, e1, e2 = pair_exp(w[c] + pp, kk)
            aa = e1 * aa + e2 * vv
            bb = e1 * bb + e2

    @cuda.jit
    def wkv_forward_sweep(w, u, k, v, gy, qs, ds, ys, es, gw, gu):  # pragma: no cover - compiled
        i = cuda.grid(1)
        n_b, n_t, n_c = k.shape
        if i >= n_b * n_c:
            return
        b, c = i // n_c, i % n_c
        aa, bb, pp, a2, b2 = zero, zero, neg, zero, zero
        sw, su = 0.0, 0.0  # float64 sums
        for t in range(n_t):
            kk, vv, g = k[b, t, c], v[b, t, c], gy[b, t, c]
            q, e1, e2 = pair_exp(pp, u[c] + kk)
            d = e1 * bb + e2
            yy = (e1 * aa + e2 * vv) / d
            qs[b, t, c], ds[b, t, c], ys[b, t, c], es[b, t, c] = q, d, yy, e2
            su += g * e2 * (vv - yy) / d
            sw += g * e1 * (a2 - yy * b2) / d
            pp, e1, e2 = pair_exp(w[c] + pp, kk)
            a2, b2 = e1 * (a2 + aa), e1 * (b2 + bb)
            aa, bb = e1 * aa + e2 * vv, e1 * bb + e2
        gw[b, c], gu[b, c] = sw, su

    @cuda.jit
    def wkv_reverse_sweep(w, k, v, gy, qs, ds, ys, es, gk, gv):  # pragma: no cover - compiled
        i = cuda.grid(1)
        n_b, n_t, n_c = k.shape
        if i >= n_b * n_c:
            return
        b, c = i // n_c, i % n_c
        z1, z2, m = zero, zero, neg
        for t in range(n_t - 1, -1, -1):
            kk, vv, g = k[b, t, c], v[b, t, c], gy[b, t, c]
            d, yy = ds[b, t, c], ys[b, t, c]
            direct = g * es[b, t, c] / d
            hist = math.exp(kk + m)
            gv[b, t, c] = direct + hist * z1
            gk[b, t, c] = direct * (vv - yy) + hist * (vv * z1 - z2)
            m, e1, e2 = pair_exp(w[c] + m, -qs[b, t, c])
            z1 = e1 * z1 + e2 * g / d
            z2 = e1 * z2 + e2 * g * yy / d

    return wkv_forward, wkv_forward_sweep, wkv_reverse_sweep


KERNELS = {torch.float32: _make_kernels(np.float32), torch.float64: _make_kernels(np.float64)}


def _array(t: torch.Tensor) -> Any:
    # sync=False: launched on torch's current stream, which orders the kernel after the writes of ``t``
    return cuda.as_cuda_array(t.detach(), sync=False) if t.is_cuda else t.detach().numpy()


def _launch(kernel: Any, like: torch.Tensor, *tensors: torch.Tensor) -> None:
    n = like.shape[0] * like.shape[2]
    if n == 0 or like.shape[1] == 0:
        return
    tpb = min(THREADS_PER_BLOCK, n) if backend.simulated() else THREADS_PER_BLOCK
    grid = kernel[math.ceil(n / tpb), tpb]
    if like.is_cuda:
        stream = cuda.external_stream(torch.cuda.current_stream(like.device).cuda_stream)
        grid = kernel[math.ceil(n / tpb), tpb, stream]
    grid(*map(_array, tensors))


class CudaWKV:
    """Launches the kernels on CUDA tensors (host arrays under the simulator)."""

    name = "cuda"

    def forward(self, w, u, k, v):
        y = torch.zeros_like(k)
        _launch(KERNELS[k.dtype][0], k, w, u, k, v, y)
        return y, ()

    def backward(self, w, u, k, v, gy):
        _, forward_sweep, reverse_sweep = KERNELS[k.dtype]
        qs, ds, ys, es = (torch.empty_like(k) for _ in range(4))
        gk, gv = torch.zeros_like(k), torch.zeros_like(v)
        gw = torch.zeros(k.shape[0], k.shape[2], dtype=torch.float64, device=k.device)
        gu = torch.zeros_like(gw)
        _launch(forward_sweep, k, w, u, k, v, gy, qs, ds, ys, es, gw, gu)
        _launch(reverse_sweep, k, w, k, v, gy, qs, ds, ys, es, gk, gv)
        return gk, gv, gw.sum(0), gu.sum(0)


LAUNCHER = CudaWKV()


@register("wkv", "cuda")
def wkv_cuda(w: torch.Tensor, u: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Fused numba-cuda ``wkv``: ``k, v (B, T, C)``, ``w, u (C,)`` -> ``(B, T, C)``."""
    from snnlab.functional.wkv import check_wkv_args

    check_wkv_args(w, u, k, v)
    if not k.is_cuda and not backend.simulated():
        raise BackendError(f"wkv on backend 'cuda' needs CUDA tensors, got {k.device}")
    return WKVFunction.apply(w, u, k, v, LAUNCHER)
