"""The forward neuron equations, written once with operators only (no torch, no numpy).

Every function here takes scalars or tensors alike: the torch reference
(:mod:`snnlab.functional.neuron`) calls them on tensors, and the fused kernels
(:mod:`snnlab.kernels.common.equations`) compile the very same functions for numba (CPU) and
numba-cuda, so the forward pass of every backend comes from this one source. Each line keeps
the operation order of the reference, which is why kernel spikes equal it bit for bit.

This module imports nothing, so kernels (and anything else torch-free) can compile it.
"""

from __future__ import annotations

# -- charge modes --
IF_CHARGE, DECAY_INPUT, DECAY_STATE = 0, 1, 2


def charge(v, x, k, v_rest, mode):
    """Pre-reset membrane ``h`` from ``v[t-1]`` and ``x[t]``: IF, or LIF with leak ``k = 1/tau``.

    ``DECAY_INPUT``: ``h = v + k (x - (v - v_rest))``; ``DECAY_STATE``: ``h = v - k (v - v_rest) + x``.
    """
    if mode == IF_CHARGE:
        return v + x
    if mode == DECAY_INPUT:
        return v + k * (x - (v - v_rest))
    return v - k * (v - v_rest) + x


def reset(h, s, theta, v_reset, hard):
    """Post-spike membrane: hard sets ``v_reset`` where ``s``, soft subtracts ``theta``."""
    if hard:
        return h - s * (h - v_reset)
    return h - s * theta


def adaptive_threshold(v_threshold, beta, a):
    """ALIF threshold ``theta = v_threshold + beta * a`` (Bellec et al. 2018)."""
    return v_threshold + beta * a


def adapt(a, decay, s):
    """ALIF adaptation ``a[t] = a[t-1] * (1 - 1/tau_adapt) + s[t]`` (``decay = 1 - 1/tau_adapt``)."""
    return a * decay + s


def cuba_current(i, x, w_in, tau_syn):
    """CubaLIF synaptic current ``i[t] = i[t-1] + (w_in x[t] - i[t-1]) / tau_syn``."""
    return i + (w_in * x - i) / tau_syn


def cuba_charge(v, i, v_leak, r, tau_mem):
    """CubaLIF pre-reset membrane ``h = v + (v_leak - v + r i[t]) / tau_mem``."""
    return v + (v_leak - v + r * i) / tau_mem
