"""CPU kernels: the step rules of :mod:`snnlab.kernels.common.equations` over ``(T, M)`` sequences.

Neurons are split into chunks of contiguous columns run in parallel (``prange``); inside a chunk
time is the outer loop and neurons the inner one, so every step streams one contiguous row
piece of each sequence while the chunk's state stays in cache, and the inner loop vectorises.
Kernels are generated per neuron family (forward) and per (family, surrogate class) (backward),
specialised on the switches that shape the loop (charge mode, reset mode, which sequences are
saved or returned), compiled once per dtype and cached on disk. Parameter values,
``detach_reset`` and the surrogate's ``alpha`` are arguments: changing them never recompiles.
"""

from __future__ import annotations

import hashlib
import inspect
import math
import types
from typing import Callable

import numba
import numpy as np
import torch
from numba.extending import register_jitable

from snnlab.functional import equations as forward_eq
from snnlab.functional.surrogate import ATan, Surrogate, bind
from snnlab.kernels import pool
from snnlab.kernels.common import equations as eq
from snnlab.kernels.numba import vexp
from snnlab.kernels.numba.vexp import exp_full

# Changes to the equations must invalidate cached kernels whose own source did not change:
# the digest is a closure constant of every kernel, and numba keys its cache on those.
_EQ_DIGEST = hashlib.sha1(
    (inspect.getsource(forward_eq) + inspect.getsource(eq) + inspect.getsource(vexp)).encode()
).hexdigest()[:16]
_JIT = {"parallel": True, "cache": True, "error_model": "numpy", "nogil": True}
# backward may contract into FMAs and divide by reciprocals (~7 % faster); its gradients are
# compared with tolerances, while forward stays exact (spikes equal the reference bit for bit)
_JIT_BWD = dict(_JIT, fastmath={"arcp", "contract"})
_FORWARD_FLAGS = (eq.MODE, eq.HARD, eq.SPIKING, eq.SAVE, eq.RET_V)
_BACKWARD_FLAGS = (eq.MODE, eq.HARD, eq.SPIKING, eq.SAVE, eq.HAS_GV, eq.NEED_K, eq.G_MODE)
_KERNELS: dict[tuple, Callable] = {}

_REGISTERED: set = set()


def _jitable(fn: Callable) -> Callable:
    """Make a plain scalar function callable from numba kernels (registered once)."""
    if fn not in _REGISTERED:
        register_jitable(fn)
        _REGISTERED.add(fn)
    return fn


for _fn in eq.HELPERS:
    _jitable(_fn)


def _vector_exp(fn: Callable) -> Callable:
    """``fn`` with ``exp`` / ``exp_neg`` as the vectorisable :mod:`vexp` functions (libm's stay scalar)."""
    names = dict(fn.__globals__, exp=exp_full, exp_neg=vexp.exp_nonpos)
    return types.FunctionType(fn.__code__, names, fn.__name__, fn.__defaults__, fn.__closure__)


def _only(flags: tuple, keep: tuple) -> tuple:
    """The switches a pass depends on (others zeroed), so one kernel serves all the rest."""
    return tuple(int(f) if i in keep else 0 for i, f in enumerate(flags))


def forward_kernel(family: eq.Family, flags: tuple) -> Callable:
    """The forward kernel of a neuron family, specialised on its switches."""
    key = ("fwd", family.name, _only(flags, _FORWARD_FLAGS))
    if key not in _KERNELS:
        _KERNELS[key] = _make_forward(_jitable(family.forward), key[2], _EQ_DIGEST)
    return _KERNELS[key]


def backward_kernel(family: eq.Family, surrogate: type[Surrogate], flags: tuple) -> Callable:
    """The backward kernel of a family with one surrogate's derivative, specialised on its switches."""
    key = ("bwd", family.name, surrogate, _only(flags, _BACKWARD_FLAGS))
    if key not in _KERNELS:
        steps = tuple(_jitable(fn) for fn in (family.backward, family.gap, family.post))
        sg = _jitable(_vector_exp(bind(surrogate.grad_fn, "math")))
        _KERNELS[key] = _make_backward(*steps, sg, key[3], _EQ_DIGEST)
    return _KERNELS[key]


def _make_forward(step: Callable, F: tuple, digest: str) -> Callable:
    @numba.njit(**_JIT)
    def forward(x, a0, b0, P, chunk, out, v_seq, keep_a, keep_b, a_T, b_T):
        # x, out, v_seq, keep_a, keep_b: (T, M); a0, b0, a_T, b_T: (M,); unused sequences are (1, 1)
        assert digest != ""
        T, M = x.shape
        for c in numba.prange((M + chunk - 1) // chunk):
            lo, hi = c * chunk, min(c * chunk + chunk, M)
            va, vb = a_T[lo:hi], b_T[lo:hi]  # the chunk's state, updated in place
            va[:], vb[:] = a0[lo:hi], b0[lo:hi]
            for t in range(T):
                xr, outr = x[t, lo:hi], out[t, lo:hi]
                kar = keep_a[t, lo:hi] if F[eq.SAVE] >= 1 else keep_a[0]
                kbr = keep_b[t, lo:hi] if F[eq.SAVE] >= 2 else keep_b[0]
                vr = v_seq[t, lo:hi] if F[eq.RET_V] else v_seq[0]
                for j in range(hi - lo):
                    o, va[j], vb[j], ka, kb = step(va[j], vb[j], xr[j], P, F)
                    outr[j] = o
                    if F[eq.SAVE] >= 1:
                        kar[j] = ka
                    if F[eq.SAVE] >= 2:
                        kbr[j] = kb
                    if F[eq.RET_V]:
                        vr[j] = va[j]

    return forward


def _make_backward(step: Callable, gap: Callable, post: Callable, sg: Callable, F: tuple, digest: str) -> Callable:
    @numba.njit(**_JIT_BWD)
    def backward(g_out, g_v, ga_T, gb_T, keep_a, keep_b, a0, P, alpha, chunk, g_x, ga0, gb0, gk):
        # g_v, keep_*, g_x: (T, M); g_out: (T, M), (T, 1) or (1, M) by F[G_MODE]; ga_T, gb_T, a0, ga0, gb0:
        # (M,); gk: (M,) float64 partial dL/dk
        assert digest != ""
        T, M = g_x.shape
        zero = P[eq.ZERO]
        for c in numba.prange((M + chunk - 1) // chunk):
            lo, hi = c * chunk, min(c * chunk + chunk, M)
            ga, gb, gkc = ga0[lo:hi], gb0[lo:hi], gk[lo:hi] if F[eq.NEED_K] else gk[:1]
            ga[:], gb[:] = ga_T[lo:hi], gb_T[lo:hi]
            for t in range(T - 1, -1, -1):
                gxr = g_x[t, lo:hi]
                gor = g_out[0, lo:hi] if F[eq.G_MODE] == eq.G_PER_UNIT else g_out[t, lo:hi]
                g_step = g_out[t, 0] if F[eq.G_MODE] == eq.G_PER_STEP else zero
                gvr = g_v[t, lo:hi] if F[eq.HAS_GV] else g_v[0]
                kar = keep_a[t, lo:hi] if F[eq.SAVE] >= 1 else keep_a[0]
                kbr = keep_b[t, lo:hi] if F[eq.SAVE] >= 2 else keep_b[0]
                pa = keep_a[max(t - 1, 0), lo:hi] if F[eq.NEED_K] else keep_a[0]
                pb = keep_b[max(t - 1, 0), lo:hi] if F[eq.NEED_K] and F[eq.SAVE] >= 2 else keep_b[0]
                for j in range(hi - lo):
                    ka = kar[j] if F[eq.SAVE] >= 1 else zero
                    kb = kbr[j] if F[eq.SAVE] >= 2 else ka
                    slope = sg(gap(ka, kb, P), alpha) if F[eq.SPIKING] else 0.0
                    v_prev = zero
                    if F[eq.NEED_K]:
                        v_prev = a0[lo + j] if t == 0 else post(pa[j], pb[j] if F[eq.SAVE] >= 2 else zero, P, F)
                    g = ga[j] + gvr[j] if F[eq.HAS_GV] else ga[j]
                    go = g_step if F[eq.G_MODE] == eq.G_PER_STEP else gor[j]
                    gxr[j], ga[j], gb[j], gkp = step(g, gb[j], go, ka, kb, v_prev, slope, P, F)
                    if F[eq.NEED_K]:
                        gkc[j] += gkp

    return backward


def _chunk(M: int) -> int:
    """Columns per parallel task: two tasks per thread, long contiguous row pieces (256..65536)."""
    per_task = math.ceil(M / (2 * numba.get_num_threads()))
    return int(min(65536, max(256, -(-per_task // 64) * 64)))


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy()


def compact_grad(g: torch.Tensor) -> tuple[torch.Tensor, int]:
    """A ``(T, M)`` output gradient as the kernel reads it: ``(array, F[G_MODE])``.

    Broadcast gradients are passed compactly instead of materialised: the gradient of
    ``out.sum()`` (stride 0 along units) as ``(T, 1)``, of ``out.mean(0)`` (stride 0 along time)
    as ``(1, M)``; other non-contiguous gradients are copied into a pooled dense buffer.
    """
    T, M = g.shape
    if g.is_contiguous() or T * M == 0:
        return g.contiguous(), eq.G_DENSE
    if g.stride(1) == 0:
        return g[:, :1].contiguous(), eq.G_PER_STEP
    if g.stride(0) == 0:
        return g[:1].contiguous(), eq.G_PER_UNIT
    dense = pool.empty((T, M), g.dtype)
    dense.copy_(g)
    return dense, eq.G_DENSE


class CpuLauncher:
    """Runs the fused kernels on CPU tensors, reading and writing them in place (zero copy)."""

    name = "numba"

    def compute_dtype(self, dtype: torch.dtype) -> torch.dtype:
        """float32 and float64 run as they are; other floats (float16, bfloat16) run in float32."""
        return dtype if dtype in (torch.float32, torch.float64) else torch.float32

    def forward(self, plan, x, a0, b0, out, v_seq, keep_a, keep_b, a_T, b_T) -> None:
        T, M = x.shape
        if T * M == 0:
            a_T.copy_(a0)
            b_T.copy_(b0)
            return
        kernel = forward_kernel(plan.family, plan.F)
        kernel(
            _np(x),
            _np(a0),
            _np(b0),
            plan.P,
            _chunk(M),
            _np(out),
            _np(v_seq),
            _np(keep_a),
            _np(keep_b),
            _np(a_T),
            _np(b_T),
        )

    def backward(self, plan, flags, g_out, g_v, ga_T, gb_T, keep_a, keep_b, a0, g_x, ga0, gb0) -> float:
        T, M = g_x.shape
        gk = np.zeros(M if flags[eq.NEED_K] else 1, dtype=np.float64)
        if T * M == 0:
            ga0.copy_(ga_T)
            gb0.copy_(gb_T)
            return 0.0
        g_out, g_mode = compact_grad(g_out)
        flags = flags[: eq.G_MODE] + (g_mode,) + flags[eq.G_MODE + 1 :]
        # LI has no surrogate: its slope is never evaluated, so it shares the leaky ATan kernels
        kernel = backward_kernel(plan.family, type(plan.surrogate) if plan.surrogate else ATan, flags)
        alpha = type(plan.P[eq.ONE])(plan.surrogate.alpha if plan.surrogate else 1.0)  # compute dtype
        kernel(
            _np(g_out),
            _np(g_v),
            _np(ga_T),
            _np(gb_T),
            _np(keep_a),
            _np(keep_b),
            _np(a0),
            plan.P,
            alpha,
            _chunk(M),
            _np(g_x),
            _np(ga0),
            _np(gb0),
            gk,
        )
        return float(gk.sum())
