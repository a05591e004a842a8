"""Per-neuron, per-step update rules shared by the numba (CPU) and numba-cuda kernels.

These are plain Python scalar functions: the CPU backend compiles them with
``numba.extending.register_jitable`` and the CUDA backend with ``cuda.jit(device=True)``, so a
rule and its derivative exist once for both. The forward arithmetic is not repeated here: it
calls :mod:`snnlab.functional.equations`, the functions the torch reference runs on tensors
(same operations, same order, same rounding in the input dtype), which is why spikes match
the reference bit for bit. The derivatives below are the one second source (the reference
differentiates with autograd); the equivalence tests hold them to it.

Every neuron keeps at most two state values ``(a, b)`` and at most two saved values per step
``(keep_a, keep_b)``:

| family | kinds | state (a, b) | saved for backward | surrogate argument ``u`` |
|---|---|---|---|---|
| leaky | if, lif (PLIF), li | (v, unused) | h (none for li) | h - v_threshold |
| alif | alif | (v, adaptation) | h, theta | h - theta |
| cuba | cuba_lif | (v, current i) | h | h - v_threshold |

Scalar parameters travel as one tuple ``P`` in the input dtype (indices below) and switches as
one tuple ``F`` of ints; backward steps receive ``sg = surrogate'(u)`` from the caller, which
binds the surrogate's own ``grad_fn``.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

from snnlab.functional.equations import (
    DECAY_INPUT,
    DECAY_STATE,
    IF_CHARGE,
    adapt,
    adaptive_threshold,
    charge,
    cuba_charge,
    cuba_current,
    reset,
)
from snnlab.functional.neuron import KINDS

# -- indices into the parameter tuple P (values in the compute dtype) --
K, V_REST, V_TH, V_RESET, ONE, ZERO, SG_RESET, BETA, DECAY_A, TAU_SYN, TAU_MEM, R, V_LEAK, W_IN = range(14)
N_PARAMS = 14  # SG_RESET: 1, or 0 with detach_reset (no gradient through the spike in the reset)
# -- indices into the switch tuple F (ints; kernels are specialised on them) --
MODE, HARD, SPIKING, SAVE, RET_V, HAS_GV, NEED_K, G_MODE = range(8)
N_FLAGS = 8
# -- charge modes (F[MODE]): IF_CHARGE, DECAY_INPUT, DECAY_STATE of snnlab.functional.equations --
# -- layouts of the output gradient (F[G_MODE], CPU backward): (T, M); one value per step, (T, 1)
# (e.g. the gradient of ``out.sum()``); one row for all steps, (1, M) (e.g. of ``out.mean(0)``)
G_DENSE, G_PER_STEP, G_PER_UNIT = 0, 1, 2


def charge_grads(k, mode, one):
    """``(dh/dv[t-1], dh/dx[t])`` of :func:`charge`."""
    if mode == IF_CHARGE:
        return one, one
    if mode == DECAY_INPUT:
        return one - k, k
    return one - k, one


def leak_grad(h, v_prev, k, v_rest, mode, zero):
    """``dh/dk`` recomputed from ``h`` and ``v[t-1]``: ``x - (v - v_rest) = (h - v) / k`` when decaying input."""
    if mode == DECAY_INPUT:
        return (h - v_prev) / k
    if mode == DECAY_STATE:
        return v_rest - v_prev
    return zero


def fire(h, theta, v_reset, hard, one):
    """``(spike in {0, 1}, post-reset membrane)``; hard reset to ``v_reset``, soft subtracts ``theta``."""
    s = (h - theta >= 0) * one
    return s, reset(h, s, theta, v_reset, hard)


def reset_grads(h, theta, s, sg, v_reset, hard, sg_reset, one):
    """``(dv/dh, dv/dtheta)`` of :func:`fire`; ``sg_reset`` (1, or 0 when detached) scales the spike's slope."""
    sgr = sg * sg_reset
    if hard:
        return one - s - (h - v_reset) * sgr, (h - v_reset) * sgr
    return one - theta * sgr, theta * sgr - s


# ---------------------------------------------------------------- leaky: IF, LIF, PLIF, LI
def leaky_forward(a, b, x, P, F):
    """One step; returns ``(out, v, b, keep_a=h, keep_b)``; ``out`` is the spike, or ``h`` for LI."""
    h = charge(a, x, P[K], P[V_REST], F[MODE])
    if not F[SPIKING]:
        return h, h, b, h, b
    s, v = fire(h, P[V_TH], P[V_RESET], F[HARD], P[ONE])
    return s, v, b, h, b


def leaky_gap(keep_a, keep_b, P):
    return keep_a - P[V_TH]


def leaky_post(keep_a, keep_b, P, F):
    """Post-reset ``v[t]`` recomputed from the saved ``h[t]``."""
    if not F[SPIKING]:
        return keep_a
    return fire(keep_a, P[V_TH], P[V_RESET], F[HARD], P[ONE])[1]


def leaky_backward(ga, gb, g_out, keep_a, keep_b, v_prev, sg, P, F):
    """``ga = dL/dv[t]`` -> ``(dL/dx[t], dL/dv[t-1], gb, dL/dk part)``."""
    one, zero = P[ONE], P[ZERO]
    if F[SPIKING]:
        s = (keep_a - P[V_TH] >= 0) * one
        dv_dh = reset_grads(keep_a, P[V_TH], s, sg, P[V_RESET], F[HARD], P[SG_RESET], one)[0]
        gh = ga * dv_dh + g_out * sg
    else:
        gh = ga + g_out
    dh_dv, dh_dx = charge_grads(P[K], F[MODE], one)
    gk = gh * leak_grad(keep_a, v_prev, P[K], P[V_REST], F[MODE], zero) if F[NEED_K] else zero * gh
    return gh * dh_dx, gh * dh_dv, gb, gk


# ---------------------------------------------------------------- ALIF (adaptive threshold)
def alif_forward(a, b, x, P, F):
    """One step; state ``(v, adaptation)``; returns ``(s, v, adaptation, keep_a=h, keep_b=theta)``."""
    h = charge(a, x, P[K], P[V_REST], F[MODE])
    theta = adaptive_threshold(P[V_TH], P[BETA], b)
    s, v = fire(h, theta, P[V_RESET], F[HARD], P[ONE])
    return s, v, adapt(b, P[DECAY_A], s), h, theta


def alif_gap(keep_a, keep_b, P):
    return keep_a - keep_b


def alif_post(keep_a, keep_b, P, F):
    return fire(keep_a, keep_b, P[V_RESET], F[HARD], P[ONE])[1]


def alif_backward(ga, gb, g_out, keep_a, keep_b, v_prev, sg, P, F):
    """``(ga, gb) = dL/d(v, a)[t]`` -> ``(dL/dx[t], dL/dv[t-1], dL/da[t-1], 0)``; the spike feeds out and a."""
    one, zero = P[ONE], P[ZERO]
    s = (keep_a - keep_b >= 0) * one
    dv_dh, dv_dth = reset_grads(keep_a, keep_b, s, sg, P[V_RESET], F[HARD], P[SG_RESET], one)
    g_spike = g_out + gb
    gh = ga * dv_dh + g_spike * sg
    g_theta = ga * dv_dth - g_spike * sg
    dh_dv, dh_dx = charge_grads(P[K], F[MODE], one)
    return gh * dh_dx, gh * dh_dv, gb * P[DECAY_A] + g_theta * P[BETA], zero * gh


# ---------------------------------------------------------------- CubaLIF (current, then membrane)
def cuba_forward(a, b, x, P, F):
    """One step; state ``(v, i)``; returns ``(s, v, i, keep_a=h, keep_b=h)``."""
    i = cuba_current(b, x, P[W_IN], P[TAU_SYN])
    h = cuba_charge(a, i, P[V_LEAK], P[R], P[TAU_MEM])
    s, v = fire(h, P[V_TH], P[V_RESET], F[HARD], P[ONE])
    return s, v, i, h, h


def cuba_backward(ga, gb, g_out, keep_a, keep_b, v_prev, sg, P, F):
    """``(ga, gb) = dL/d(v, i)[t]`` -> ``(dL/dx[t], dL/dv[t-1], dL/di[t-1], 0)``."""
    one, zero = P[ONE], P[ZERO]
    s = (keep_a - P[V_TH] >= 0) * one
    dv_dh = reset_grads(keep_a, P[V_TH], s, sg, P[V_RESET], F[HARD], P[SG_RESET], one)[0]
    gh = ga * dv_dh + g_out * sg
    gi = gb + gh * P[R] / P[TAU_MEM]
    return gi * P[W_IN] / P[TAU_SYN], gh * (one - one / P[TAU_MEM]), gi * (one - one / P[TAU_SYN]), zero * gh


class Family(NamedTuple):
    """The step rules of one neuron family, compiled by each backend."""

    name: str
    forward: Callable
    backward: Callable
    gap: Callable  # u = h - theta, the surrogate's argument, from the saved values
    post: Callable  # post-reset v[t] from the saved values (for PLIF's dL/dk)
    n_saved: int  # saved (T, M) sequences when training


LEAKY = Family("leaky", leaky_forward, leaky_backward, leaky_gap, leaky_post, 1)
ALIF = Family("alif", alif_forward, alif_backward, alif_gap, alif_post, 2)
CUBA = Family("cuba", cuba_forward, cuba_backward, leaky_gap, leaky_post, 1)
FAMILIES: dict[str, Family] = {family.name: family for family in (LEAKY, ALIF, CUBA)}


def family_of(kind: str) -> Family:
    """The step rules of neuron kind ``kind`` (its record's ``family``)."""
    return FAMILIES[KINDS.get(kind).family]


# plain functions the kernels call from the step rules (each backend compiles them once)
HELPERS = (
    charge,
    reset,
    adaptive_threshold,
    adapt,
    cuba_current,
    cuba_charge,
    charge_grads,
    leak_grad,
    fire,
    reset_grads,
)
