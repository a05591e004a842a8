"""The simulator's own network description: populations and projections.

Both front ends compile to a :class:`Plan`: a NIR graph (:mod:`snnlab.sim.compile`) and the
direct API (:mod:`snnlab.sim.network`). A population is a group of units updated once per
step, in plan order; a projection carries the nonzero outputs of one population into the
ring buffer of another (CSR synapse lists per presynaptic unit, or a convolution kernel
scattered without a dense matrix), each synapse with an integer delay in steps.

Unit update at step ``t`` of a ``NEURON`` population (forward Euler, ``in_k`` the input that
arrived on receptor ``k``):

    i_k = decay_k * i_k + gain_k * in_k            (only when the population has currents)
    c   = sum_k i_k  (or in_0 without currents); a conductance receptor adds i_k * (e_rev_k - v)
    v   = v + a_leak * (v_leak - v) + a_in * c     (held while refractory)
    s   = v >= v_th;  v = v_reset (hard) or v - v_th (soft) where s
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from snnlab.ir.shapes import Geometry

SOURCE, CONST, RELAY, NEURON, THRESHOLD = 0, 1, 2, 3, 4
MODEL_NAMES = {SOURCE: "source", CONST: "const", RELAY: "relay", NEURON: "neuron", THRESHOLD: "threshold"}
CSR, CONV = 0, 1


@dataclass
class Population:
    """A group of ``size`` units with per-unit parameters (arrays of length ``size``)."""

    name: str
    model: int  # SOURCE | CONST | RELAY | NEURON | THRESHOLD
    size: int
    shape: tuple[int, ...]
    op: str = ""  # NIR node type or direct-API model name, for profiles
    spiking: bool = False  # output is binary spikes (else real values)
    soft_reset: bool = False
    n_currents: int = 0  # synaptic currents (receptors); 0: input drives v directly
    a_leak: np.ndarray | None = None
    a_in: np.ndarray | None = None
    v_leak: np.ndarray | None = None
    v_th: np.ndarray | None = None
    v_reset: np.ndarray | None = None
    v_init: np.ndarray | None = None
    decay: np.ndarray | None = None  # (n_currents, size)
    gain: np.ndarray | None = None  # (n_currents, size)
    e_rev: np.ndarray | None = None  # (n_currents, size) reversal potential; NaN: a current receptor
    refractory: np.ndarray | None = None  # int steps
    source_index: int = -1  # SOURCE: which input (order of Simulator inputs)

    def __post_init__(self) -> None:
        n = self.size
        defaults = {"a_leak": 0.0, "a_in": 1.0, "v_leak": 0.0, "v_th": np.inf, "v_reset": 0.0, "v_init": 0.0}
        for name, default in defaults.items():
            value = getattr(self, name)
            setattr(self, name, per_unit(default if value is None else value, n))
        k = self.n_currents
        self.decay = np.zeros((k, n)) if self.decay is None else np.asarray(self.decay, np.float64).reshape(k, n)
        self.gain = np.ones((k, n)) if self.gain is None else np.asarray(self.gain, np.float64).reshape(k, n)
        e_rev = np.full((k, n), np.nan) if self.e_rev is None else np.asarray(self.e_rev, np.float64)
        self.e_rev = np.broadcast_to(e_rev.reshape(k, n) if e_rev.size == k * n else e_rev, (k, n)).copy()
        self.refractory = per_unit(0 if self.refractory is None else self.refractory, n, np.int64)

    @property
    def conductances(self) -> int:
        """Bit k set when receptor k is a conductance (its ``e_rev`` is a number)."""
        return sum(1 << k for k in range(self.n_currents) if not np.isnan(self.e_rev[k]).all())

    @property
    def receptors(self) -> int:
        """Input channels in the ring buffer (one per current, at least one)."""
        return max(self.n_currents, 1)


@dataclass
class Projection:
    """Synapses from population ``src`` to receptor ``receptor`` of population ``dst``."""

    name: str
    src: int  # population index
    dst: int
    kind: int = CSR  # CSR | CONV
    receptor: int = 0
    op: str = ""  # NIR node type, "bias" or "identity"
    indptr: np.ndarray | None = None  # CSR (n_src+1,)
    indices: np.ndarray | None = None  # CSR (n_syn,) target unit
    weights: np.ndarray | None = None  # CSR (n_syn,)
    delays: np.ndarray | None = None  # CSR (n_syn,) steps; CONV (n_dst,) steps
    geometry: Geometry | None = None  # CONV
    kernel: np.ndarray | None = None  # CONV (C_out, C_in/groups, kh, kw)

    @property
    def n_synapses(self) -> int:
        """Stored connections (CSR entries or convolution weights)."""
        return int(self.indices.size if self.kind == CSR else np.count_nonzero(self.kernel))

    @property
    def max_delay(self) -> int:
        return int(self.delays.max()) if self.delays is not None and self.delays.size else 0


@dataclass
class Plan:
    """Populations in update order and the projections between them."""

    populations: list[Population] = field(default_factory=list)
    projections: list[Projection] = field(default_factory=list)
    dt: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def index(self, name: str) -> int:
        """Position of the population ``name``; KeyError lists the names."""
        for i, pop in enumerate(self.populations):
            if pop.name == name:
                return i
        raise KeyError(f"no population {name!r}; populations are {[p.name for p in self.populations]}")

    def depth(self, pop: int) -> int:
        """Ring-buffer depth of population ``pop``: its largest incoming delay + 1."""
        delays = [q.max_delay for q in self.projections if q.dst == pop]
        return max(delays, default=0) + 1

    @property
    def n_inputs(self) -> int:
        return sum(1 for p in self.populations if p.model == SOURCE)


def per_unit(value: Any, n: int, dtype: Any = np.float64) -> np.ndarray:
    """A scalar or an array of ``n`` values as a fresh (n,) array."""
    arr = np.asarray(value, dtype=dtype)
    return np.broadcast_to(arr.reshape(-1) if arr.size > 1 else arr.reshape(()), (n,)).copy()


def csr_from_coo(
    n_src: int, src: np.ndarray, dst: np.ndarray, weight: np.ndarray, delay: np.ndarray | None = None
) -> tuple[np.ndarray, ...]:
    """CSR synapse lists per presynaptic unit from (src, dst, weight, delay) triples.

    Returns:
        indptr (n_src+1,), indices (S,), weights (S,), delays (S,) sorted by source unit.
    """
    src = np.asarray(src, np.int64).reshape(-1)
    order = np.argsort(src, kind="stable")
    delay = np.zeros(src.size, np.int64) if delay is None else np.broadcast_to(np.asarray(delay, np.int64), src.shape)
    indptr = np.zeros(n_src + 1, np.int64)
    np.cumsum(np.bincount(src, minlength=n_src), out=indptr[1:])
    return (
        indptr,
        np.asarray(dst, np.int64).reshape(-1)[order],
        np.broadcast_to(np.asarray(weight, np.float64), src.shape)[order].copy(),
        delay[order].copy(),
    )


def dense_to_csr(weight: np.ndarray, delay: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """CSR of the nonzero entries of a dense (out, in) weight matrix (delay per output or per entry)."""
    weight = np.asarray(weight, np.float64)
    dst, src = np.nonzero(weight)
    d = None
    if delay is not None:
        delay = np.asarray(delay, np.int64)
        d = delay[dst] if delay.ndim == 1 else delay[dst, src]
    return csr_from_coo(weight.shape[1], src, dst, weight[dst, src], d)


def pool_csr(g: Geometry, scale: float) -> tuple[np.ndarray, ...]:
    """CSR of a sum/average pooling window footprint (no dense matrix)."""
    c, oy, ox, ky, kx = np.meshgrid(
        np.arange(g.c_in), np.arange(g.h_out), np.arange(g.w_out), np.arange(g.kh), np.arange(g.kw), indexing="ij"
    )
    iy, ix = oy * g.sh - g.ph + ky, ox * g.sw - g.pw + kx
    ok = (iy >= 0) & (iy < g.h) & (ix >= 0) & (ix < g.w)
    src = ((c * g.h + iy) * g.w + ix)[ok]
    dst = ((c * g.h_out + oy) * g.w_out + ox)[ok]
    return csr_from_coo(g.c_in * g.h * g.w, src, dst, np.full(src.size, scale))


def identity_csr(n: int, weight: Any = 1.0, delay: Any = 0) -> tuple[np.ndarray, ...]:
    """One-to-one synapses with per-unit weight and delay."""
    idx = np.arange(n)
    return csr_from_coo(n, idx, idx, per_unit(weight, n), per_unit(delay, n, np.int64))
