"""numba (CPU) passes of ``batch_norm.neuron`` (see :mod:`snnlab.kernels.common.bn_neuron`).

Rows ``m`` of ``x (T, M, C)`` are split into chunks run in parallel; inside a chunk time is the
outer loop, then the chunk's rows, then the ``C`` channels (contiguous: the inner loop
vectorises with the per-channel ``mean``, ``a``, ``b``), while the chunk's membranes stay in
cache. The neuron's step rules are those of the fused neuron kernels
(:mod:`snnlab.kernels.common.equations`, compiled as :mod:`snnlab.kernels.numba.cpu` compiles
them); forward is exact (no fast-math), backward may contract into FMAs as the neuron backward does.

- forward: ``y = (x - mean) a + b``, one neuron step, ``out = s mask``, ``h`` saved.
- backward: reverse time from ``g = dL/dout``: ``dL/ds = g mask``, the neuron's step gives
  ``dy``; per chunk, float64 sums of ``dy`` and ``dy (x - mean)`` per channel (no shared writes).
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import numba
import numpy as np
import torch

from snnlab.functional.surrogate import bind
from snnlab.kernels import pool
from snnlab.kernels.common import equations as eq
from snnlab.kernels.common.bn_neuron import Plan, register_batch_norm_neuron
from snnlab.kernels.numba.batch_norm import NumbaBatchNorm
from snnlab.kernels.numba.cpu import _EQ_DIGEST, _JIT, _JIT_BWD, _chunk, _jitable, _vector_exp

_KERNELS: dict[tuple, Callable] = {}


def _make_forward(step: Callable, F: tuple, has_mask: bool, digest: str) -> Callable:
    @numba.njit(**_JIT)
    def forward(x, mean, a, b, mask, P, rest, rows, out, keep, v):
        # x, out, keep: (T, M, C); mean, a, b: (C,); mask: (M, C) or (1, 1); v: (M, C) membranes
        assert digest != ""
        T, M, C = x.shape
        zero = P[eq.ZERO]
        for c in numba.prange((M + rows - 1) // rows):
            lo, hi = c * rows, min(c * rows + rows, M)
            v[lo:hi] = rest
            for t in range(T):
                for m in range(lo, hi):
                    xr, orow, kr, vr = x[t, m], out[t, m], keep[t, m], v[m]
                    mr = mask[m] if has_mask else mask[0]
                    for j in range(C):
                        y = (xr[j] - mean[j]) * a[j] + b[j]
                        s, vr[j], _, h, _ = step(vr[j], zero, y, P, F)
                        orow[j] = s * mr[j] if has_mask else s
                        kr[j] = h

    return forward


def _make_backward(step: Callable, gap: Callable, sg: Callable, F: tuple, has_mask: bool, digest: str) -> Callable:
    @numba.njit(**_JIT_BWD)
    def backward(g, keep, x, mean, mask, P, alpha, rows, gy, ga_all, sums):
        # g, keep, x, gy: (T, M, C); mean: (C,); mask: (M, C) or (1, 1); ga_all: (M, C) dL/dv;
        # sums: (chunks, 2, C) float64 zeros -> per chunk sum dy, sum dy (x - mean)
        assert digest != ""
        T, M, C = x.shape
        zero = P[eq.ZERO]
        for c in numba.prange((M + rows - 1) // rows):
            lo, hi = c * rows, min(c * rows + rows, M)
            ga_all[lo:hi] = zero
            s1, s2 = sums[c, 0], sums[c, 1]
            for t in range(T - 1, -1, -1):
                for m in range(lo, hi):
                    gr, kr, xr, gyr, ga = g[t, m], keep[t, m], x[t, m], gy[t, m], ga_all[m]
                    mr = mask[m] if has_mask else mask[0]
                    for j in range(C):
                        h = kr[j]
                        slope = sg(gap(h, h, P), alpha)
                        gs = gr[j] * mr[j] if has_mask else gr[j]
                        d, ga[j], _, _ = step(ga[j], zero, gs, h, h, zero, slope, P, F)
                        gyr[j] = d
                        s1[j] += np.float64(d)
                        s2[j] += np.float64(d) * np.float64(xr[j] - mean[j])

    return backward


def _forward_kernel(F: tuple, has_mask: bool) -> Callable:
    key = ("fwd", F, has_mask)
    if key not in _KERNELS:
        _KERNELS[key] = _make_forward(_jitable(eq.LEAKY.forward), F, has_mask, _EQ_DIGEST)
    return _KERNELS[key]


def _backward_kernel(F: tuple, surrogate: type, has_mask: bool) -> Callable:
    key = ("bwd", F, surrogate, has_mask)
    if key not in _KERNELS:
        sg = _jitable(_vector_exp(bind(surrogate.grad_fn, "math")))
        step, gap = _jitable(eq.LEAKY.backward), _jitable(eq.LEAKY.gap)
        _KERNELS[key] = _make_backward(step, gap, sg, F, has_mask, _EQ_DIGEST)
    return _KERNELS[key]


def _rows(M: int, C: int) -> int:
    """Rows per parallel task: the fused neuron kernels' lanes per task, in whole rows."""
    return max(1, min(M, _chunk(M * C) // max(C, 1)))


def _np(t: Optional[torch.Tensor], dtype: torch.dtype) -> np.ndarray:
    return t.detach().numpy() if t is not None else np.zeros((1, 1), dtype=np.dtype(str(dtype).split(".")[-1]))


class NumbaBatchNormNeuron:
    """Fused passes on contiguous CPU tensors (float32 and float64)."""

    bn = NumbaBatchNorm

    @staticmethod
    def unsupported(x: torch.Tensor) -> bool:
        return NumbaBatchNorm.unsupported(x)

    @staticmethod
    def forward(plan: Plan, x: torch.Tensor, mean: torch.Tensor, a: torch.Tensor, b: torch.Tensor, mask: Any) -> tuple:
        T, M, C = x.shape
        out, keep, v = (pool.empty(s, x.dtype) for s in ((T, M, C), (T, M, C), (M, C)))
        kernel = _forward_kernel(plan.F, mask is not None)
        rest = type(plan.P[eq.ONE])(plan.rest)
        args = (_np(x, x.dtype), mean.numpy(), a.numpy(), b.numpy(), _np(mask, x.dtype), plan.P, rest)
        kernel(*args, _rows(M, C), out.numpy(), keep.numpy(), v.numpy())
        return out, keep

    @staticmethod
    def backward(plan: Plan, g: torch.Tensor, keep: torch.Tensor, x: torch.Tensor, mean: torch.Tensor, mask: Any):
        T, M, C = x.shape
        rows = _rows(M, C)
        gy, ga = pool.empty((T, M, C), x.dtype), pool.empty((M, C), x.dtype)
        sums = np.zeros(((M + rows - 1) // rows, 2, C))
        kernel = _backward_kernel(plan.F, type(plan.surrogate), mask is not None)
        alpha = type(plan.P[eq.ONE])(plan.surrogate.alpha)
        args = (_np(g, x.dtype), keep.numpy(), _np(x, x.dtype), mean.numpy(), _np(mask, x.dtype), plan.P, alpha)
        kernel(*args, rows, gy.numpy(), ga.numpy(), sums)
        total = torch.from_numpy(sums.sum(0))
        return gy, total[0], total[1]


register_batch_norm_neuron(NumbaBatchNormNeuron, "numba")
