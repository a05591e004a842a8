"""numba-cuda kernels: one thread per neuron, the whole time loop inside the thread.

The step rules are those of :mod:`snnlab.kernels.common.equations`, recompiled here as device
functions (their globals rebound so that helper calls resolve to device functions too); the
surrogate derivative is its class's ``grad_fn`` bound with ``bind(..., "math")``. At every time
step consecutive threads touch consecutive addresses of the ``(T, M)`` sequences (coalesced).
Kernels are generated per (family, switches) forward and per (family, surrogate class,
switches) backward and kept in a dict; ``alpha`` and parameter values are arguments.

The same kernels run on a GPU (arguments are CUDA tensors seen through
``__cuda_array_interface__``) and under ``NUMBA_ENABLE_CUDASIM=1`` (arguments are host arrays).
"""

from __future__ import annotations

import types
from typing import Callable

from numba import cuda

from snnlab.functional import equations as forward_eq
from snnlab.functional.surrogate import Surrogate, bind
from snnlab.kernels.common import equations as eq

_HELPERS = tuple(fn.__name__ for fn in eq.HELPERS)
_FORWARD_FLAGS = (eq.MODE, eq.HARD, eq.SPIKING, eq.SAVE, eq.RET_V)
_BACKWARD_FLAGS = (eq.MODE, eq.HARD, eq.SPIKING, eq.SAVE, eq.HAS_GV, eq.NEED_K)
_KERNELS: dict[tuple, Callable] = {}
_DEVICE: dict[str, Callable] = {}
_NS: dict = {}


def device_function(name: str) -> Callable:
    """The device-function version of ``equations.<name>`` (helpers resolved as device functions)."""
    if not _NS:
        _NS.update(vars(forward_eq))
        _NS.update(vars(eq))
        for helper in _HELPERS:
            _NS[helper] = _rebind(getattr(eq, helper))
    if name not in _DEVICE:
        _DEVICE[name] = _NS[name] if name in _HELPERS else _rebind(getattr(eq, name))
    return _DEVICE[name]


def _rebind(fn: Callable) -> Callable:
    return cuda.jit(device=True)(types.FunctionType(fn.__code__, _NS, fn.__name__))


def _only(flags: tuple, keep: tuple) -> tuple:
    return tuple(int(f) if i in keep else 0 for i, f in enumerate(flags))


def forward_kernel(family: eq.Family, flags: tuple) -> Callable:
    """The forward kernel of a family, specialised on its switches."""
    key = ("fwd", family.name, _only(flags, _FORWARD_FLAGS))
    if key not in _KERNELS:
        _KERNELS[key] = _make_forward(device_function(family.forward.__name__), key[2])
    return _KERNELS[key]


def backward_kernel(family: eq.Family, surrogate: type[Surrogate], flags: tuple) -> Callable:
    """The backward kernel of a family with one surrogate's derivative, specialised on its switches."""
    key = ("bwd", family.name, surrogate, _only(flags, _BACKWARD_FLAGS))
    if key not in _KERNELS:
        steps = tuple(device_function(fn.__name__) for fn in (family.backward, family.gap, family.post))
        sg = cuda.jit(device=True)(bind(surrogate.grad_fn, "math"))
        _KERNELS[key] = _make_backward(*steps, sg, key[3])
    return _KERNELS[key]


def _make_forward(step: Callable, F: tuple) -> Callable:
    @cuda.jit
    def forward(x, a0, b0, P, out, v_seq, keep_a, keep_b, a_T, b_T):
        # x, out, v_seq, keep_a, keep_b: (T, M); a0, b0, a_T, b_T: (M,); unused sequences are (1, 1)
        j = cuda.grid(1)
        if j >= x.shape[1]:
            return
        a, b = a0[j], b0[j]
        for t in range(x.shape[0]):
            o, a, b, ka, kb = step(a, b, x[t, j], P, F)
            out[t, j] = o
            if F[eq.SAVE] >= 1:
                keep_a[t, j] = ka
            if F[eq.SAVE] >= 2:
                keep_b[t, j] = kb
            if F[eq.RET_V]:
                v_seq[t, j] = a
        a_T[j], b_T[j] = a, b

    return forward


def _make_backward(step: Callable, gap: Callable, post: Callable, sg: Callable, F: tuple) -> Callable:
    @cuda.jit
    def backward(g_out, g_v, ga_T, gb_T, keep_a, keep_b, a0, P, alpha, g_x, ga0, gb0, gk):
        # g_out, g_v, keep_*, g_x: (T, M); ga_T, gb_T, a0, ga0, gb0: (M,); gk: (M,) float64 partial dL/dk
        j = cuda.grid(1)
        if j >= g_out.shape[1]:
            return
        zero = P[eq.ZERO]
        ga, gb, acc = ga_T[j], gb_T[j], 0.0
        for t in range(g_out.shape[0] - 1, -1, -1):
            ka = keep_a[t, j] if F[eq.SAVE] >= 1 else zero
            kb = keep_b[t, j] if F[eq.SAVE] >= 2 else ka
            slope = sg(gap(ka, kb, P), alpha) if F[eq.SPIKING] else 0.0
            v_prev = zero
            if F[eq.NEED_K]:
                v_prev = (
                    a0[j] if t == 0 else post(keep_a[t - 1, j], keep_b[t - 1, j] if F[eq.SAVE] >= 2 else zero, P, F)
                )
            g = ga + g_v[t, j] if F[eq.HAS_GV] else ga
            gx, ga, gb, gkp = step(g, gb, g_out[t, j], ka, kb, v_prev, slope, P, F)
            g_x[t, j] = gx
            acc += gkp
        ga0[j], gb0[j] = ga, gb
        if F[eq.NEED_K]:
            gk[j] = acc

    return backward
