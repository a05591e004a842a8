"""The per-unit update of the event-driven simulator, written once as scalar functions.

Both the numba CPU kernels (:mod:`snnlab.sim.kernels`) and the numba-cuda kernels
(:mod:`snnlab.sim.cuda_kernels`) compile these plain functions (``numba.njit`` and
``cuda.jit(device=True)``), so the two backends cannot drift apart. They are the general form
of a NIR neuron node (leak towards ``v_leak``, input gain, several synaptic currents,
refractory steps), which the training neurons of :mod:`snnlab.functional` are special cases
of; this second source is held to the first by the golden table
(tests/functional/test_functional_golden.py runs every kind with a NIR node through the
simulator). The step of a unit with input ``x_k`` on receptor ``k`` (see :mod:`snnlab.sim.plan`)::

    i_k = decay_k * i_k + gain_k * x_k                 current(i_k, decay_k, gain_k, x_k)
    c   = sum_k i_k, or i_k * (e_k - v) for a         drive(i_k, e_k, v, conductance_k)
          conductance receptor (reversal e_k)
    r   = max(r - 1, 0)                                refractory_tick(r); frozen while r > 0
    v   = v + a_leak * (v_leak - v) + a_in * c         membrane(v, c, a_leak, a_in, v_leak)
    s   = v >= v_th and r == 0                         fires(v, v_th, r)
    v   = v - v_th (soft) or v_reset (hard) where s;   r = refractory steps where s
"""

from __future__ import annotations


def current(i: float, decay: float, gain: float, x: float) -> float:
    """One step of a synaptic current: decay, then add the weighted input of this step."""
    return decay * i + gain * x


def drive(i: float, e_rev: float, v: float, conductance: bool) -> float:
    """What a synaptic variable adds to the membrane input: a current as it is, a conductance
    times the distance to its reversal potential (both from the membrane before this step)."""
    return i * (e_rev - v) if conductance else i


def membrane(v: float, c: float, a_leak: float, a_in: float, v_leak: float) -> float:
    """One forward-Euler step of the membrane: leak towards ``v_leak`` and integrate ``c``."""
    return v + a_leak * (v_leak - v) + a_in * c


def refractory_tick(r: int) -> int:
    """Refractory steps left after this step (a unit is frozen while the result is > 0)."""
    return r - 1 if r > 0 else 0


def fires(v: float, v_th: float, r: int) -> bool:
    """Whether a unit spikes: threshold reached and not refractory."""
    return (v >= v_th) & (r == 0)  # bitwise: no branch, vectorisable


def reset(v: float, v_th: float, v_reset: float, soft: int) -> float:
    """Membrane after a spike: subtract the threshold (soft) or set ``v_reset`` (hard)."""
    return v - v_th if soft else v_reset


def conv_target(y: int, x: int, o: int, ky: int, kx: int, g: object) -> int:
    """Output unit that input pixel ``(y, x)`` reaches through tap ``(ky, kx)`` of channel ``o``.

    ``g`` is a geometry row (see :func:`snnlab.sim.packing.pack`): c_in, h, w, c_out, h_out,
    w_out, kh, kw, sh, sw, ph, pw, dh, dw, groups. Returns -1 when the tap falls outside the
    output or between strides.
    """
    ny, nx = y + g[10] - ky * g[12], x + g[11] - kx * g[13]
    if ny < 0 or nx < 0 or ny % g[8] != 0 or nx % g[9] != 0:
        return -1
    oy, ox = ny // g[8], nx // g[9]
    if oy >= g[4] or ox >= g[5]:
        return -1
    return (o * g[4] + oy) * g[5] + ox
