"""Neuron equations, each written once (discrete time, parameters in time steps).

All neurons charge, fire and reset (spikingjelly semantics)::

    h[t] = charge(v[t-1], x[t])              # pre-reset membrane
    s[t] = H(h[t] - theta[t])                # spike (surrogate gradient in backward)
    v[t] = reset(h[t], s[t])                 # hard: v_reset where s, soft: h - theta * s

Charge per neuron (``tau`` in steps, ``k = 1/tau``):

- IF:       ``h = v + x``
- LIF:      ``h = v + k (x - (v - v_reset))`` if ``decay_input`` else ``h = v - k (v - v_reset) + x``
            (``v_reset`` is taken as 0 in the leak term for soft reset, ``v_reset=None``).
- PLIF:     LIF with learnable ``k = sigmoid(w)`` (Fang et al. 2021).
- ALIF:     LIF charge; threshold ``theta = v_threshold + beta * a`` with adaptation
            ``a[t] = a[t-1] (1 - 1/tau_adapt) + s[t]`` (Bellec et al. 2018); soft reset subtracts ``theta``.
- CubaLIF:  current first, then membrane (forward Euler of NIR's CubaLIF with dt = 1 step)::
                i[t] = i[t-1] + (w_in x[t] - i[t-1]) / tau_syn
                h    = v + (v_leak - v + r i[t]) / tau_mem
- LI:       non-spiking leaky integrator (readout); LIF charge, output is the membrane ``v``.

``detach_reset`` stops the gradient through the spike in the reset term. Non-finite input
propagates: a NaN membrane never spikes and stays NaN until reset; ``inf`` input gives a NaN
membrane after the step (``inf - inf``). Modules can raise instead (``check_finite=True``).

The arithmetic of each line lives once in :mod:`snnlab.functional.equations` (operators only),
which the fused kernels compile too. Each kind is one :class:`NeuronKind` record in
:data:`KINDS` (parameters, state, step, kernel family, module class, NIR node): the lists of
kinds elsewhere (kernels, ``snnlab.nn``, NIR export and import) derive from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Callable, NamedTuple, Optional, Union

import torch

from snnlab.functional import equations as eq
from snnlab.functional.surrogate import Surrogate
from snnlab.registry import Registry

Scalar = Union[float, torch.Tensor]


def _check_positive(owner: str, **values: float) -> None:
    for name, value in values.items():
        if isinstance(value, torch.Tensor):
            continue
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ValueError(f"{owner}: {name} must be a finite number > 0 (steps), got {value!r}")


def _check_finite(owner: str, **values: Optional[float]) -> None:
    for name, value in values.items():
        if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value)):
            raise ValueError(f"{owner}: {name} must be a finite number, got {value!r}")


@dataclass(frozen=True)
class IFParams:
    v_threshold: float = 1.0
    v_reset: Optional[float] = 0.0  # None = soft reset (subtract threshold)
    detach_reset: bool = False

    def __post_init__(self) -> None:
        _check_finite(type(self).__name__, v_threshold=self.v_threshold, v_reset=self.v_reset)


@dataclass(frozen=True)
class LIFParams:
    tau: float = 2.0  # membrane time constant, steps
    v_threshold: float = 1.0
    v_reset: Optional[float] = 0.0  # None = soft reset
    decay_input: bool = True
    detach_reset: bool = False

    def __post_init__(self) -> None:
        _check_positive(type(self).__name__, tau=self.tau)
        _check_finite(type(self).__name__, v_reset=self.v_reset)
        if not isinstance(self.v_threshold, (int, float)) or math.isnan(self.v_threshold):
            raise ValueError(f"LIFParams: v_threshold must be a number, got {self.v_threshold!r}")


@dataclass(frozen=True)
class ALIFParams:
    tau: float = 20.0  # membrane, steps
    tau_adapt: float = 200.0  # threshold adaptation, steps
    beta: float = 1.8  # adaptation strength
    v_threshold: float = 1.0
    v_reset: Optional[float] = None  # soft reset by default, as in LSNN
    decay_input: bool = True
    detach_reset: bool = False

    def __post_init__(self) -> None:
        _check_positive(type(self).__name__, tau=self.tau, tau_adapt=self.tau_adapt)
        _check_finite(type(self).__name__, beta=self.beta, v_threshold=self.v_threshold, v_reset=self.v_reset)


@dataclass(frozen=True)
class CubaLIFParams:
    tau_syn: float = 5.0  # synaptic current, steps
    tau_mem: float = 10.0  # membrane, steps
    r: float = 1.0
    v_leak: float = 0.0
    w_in: float = 1.0
    v_threshold: float = 1.0
    v_reset: Optional[float] = 0.0
    detach_reset: bool = False

    def __post_init__(self) -> None:
        _check_positive(type(self).__name__, tau_syn=self.tau_syn, tau_mem=self.tau_mem)
        _check_finite(
            type(self).__name__,
            r=self.r,
            v_leak=self.v_leak,
            w_in=self.w_in,
            v_threshold=self.v_threshold,
            v_reset=self.v_reset,
        )


@dataclass(frozen=True)
class LIParams:
    tau: float = 2.0  # steps
    v_reset: float = 0.0  # rest potential the leak pulls towards
    decay_input: bool = True

    def __post_init__(self) -> None:
        _check_positive(type(self).__name__, tau=self.tau)
        _check_finite(type(self).__name__, v_reset=self.v_reset)


NeuronParams = Union[IFParams, LIFParams, ALIFParams, CubaLIFParams, LIParams]


class VState(NamedTuple):
    v: torch.Tensor  # membrane (B*N,)


class ALIFState(NamedTuple):
    v: torch.Tensor
    a: torch.Tensor  # adaptation trace


class CubaState(NamedTuple):
    v: torch.Tensor
    i: torch.Tensor  # synaptic current


def params_dict(p: NeuronParams) -> dict:
    """Plain dict of a params dataclass (for export and logging)."""
    return {f.name: getattr(p, f.name) for f in fields(p)}


def _rest(v_reset: Optional[float]) -> float:
    return 0.0 if v_reset is None else v_reset


def lif_charge(v: torch.Tensor, x: torch.Tensor, k: Scalar, v_rest: float, decay_input: bool) -> torch.Tensor:
    """Leaky charge with leak factor ``k = 1/tau`` towards ``v_rest``."""
    return eq.charge(v, x, k, v_rest, eq.DECAY_INPUT if decay_input else eq.DECAY_STATE)


def fire_and_reset(
    h: torch.Tensor, theta: Scalar, v_reset: Optional[float], detach_reset: bool, surrogate: Surrogate
) -> tuple[torch.Tensor, torch.Tensor]:
    """Spike where ``h >= theta`` and reset; returns ``(spike, v)``."""
    s = surrogate(h - theta)
    sr = s.detach() if detach_reset else s
    return s, eq.reset(h, sr, theta, v_reset, v_reset is not None)


def if_step(x, state: VState, p: IFParams, surrogate: Surrogate):
    h = eq.charge(state.v, x, 1.0, 0.0, eq.IF_CHARGE)
    s, v = fire_and_reset(h, p.v_threshold, p.v_reset, p.detach_reset, surrogate)
    return s, VState(v)


def lif_step(x, state: VState, p: LIFParams, surrogate: Surrogate, k: Optional[Scalar] = None):
    k = 1.0 / p.tau if k is None else k
    h = lif_charge(state.v, x, k, _rest(p.v_reset), p.decay_input)
    s, v = fire_and_reset(h, p.v_threshold, p.v_reset, p.detach_reset, surrogate)
    return s, VState(v)


def alif_step(x, state: ALIFState, p: ALIFParams, surrogate: Surrogate):
    h = lif_charge(state.v, x, 1.0 / p.tau, _rest(p.v_reset), p.decay_input)
    theta = eq.adaptive_threshold(p.v_threshold, p.beta, state.a)
    s, v = fire_and_reset(h, theta, p.v_reset, p.detach_reset, surrogate)
    return s, ALIFState(v, eq.adapt(state.a, 1.0 - 1.0 / p.tau_adapt, s))


def cuba_lif_step(x, state: CubaState, p: CubaLIFParams, surrogate: Surrogate):
    i = eq.cuba_current(state.i, x, p.w_in, p.tau_syn)
    h = eq.cuba_charge(state.v, i, p.v_leak, p.r, p.tau_mem)
    s, v = fire_and_reset(h, p.v_threshold, p.v_reset, p.detach_reset, surrogate)
    return s, CubaState(v, i)


def li_step(x, state: VState, p: LIParams, surrogate: Optional[Surrogate] = None):
    v = lif_charge(state.v, x, 1.0 / p.tau, p.v_reset, p.decay_input)
    return v, VState(v)


@dataclass(frozen=True)
class NeuronKind:
    """Everything snnlab knows about one neuron kind; every list of kinds derives from these.

    The op ``neuron.<name>`` is registered on each backend for every kind; the fused kernels
    pick their step rules by ``family``; ``snnlab.nn.<module>`` wraps it; ``nir_node`` is the
    NIR node it exports to (None: NIR cannot express it).
    """

    name: str  # op suffix and ``SpikingNeuron.kind``
    params: type  # frozen dataclass of parameters (steps)
    state: type  # NamedTuple of state tensors, ``v`` first
    step: Callable  # (x, state, params, surrogate[, k]) -> (out, state)
    rest: Callable[[Any], tuple]  # params -> resting value of each state field
    family: str  # fused-kernel family: "leaky" | "alif" | "cuba"
    module: str  # class name in snnlab.nn
    nir_node: Optional[str]  # NIR node type, or None
    spiking: bool = True  # False: the output is the membrane (readout)
    learnable_leak: bool = False  # the step takes ``k = 1/tau`` as a tensor (PLIF)


KINDS: Registry[NeuronKind] = Registry("neuron kind")


def register_kind(kind: NeuronKind) -> NeuronKind:
    """Add a neuron kind (see docs/architecture.md, "Adding a neuron kind")."""
    return KINDS.register(kind.name, kind)


register_kind(NeuronKind("if", IFParams, VState, if_step, lambda p: (_rest(p.v_reset),), "leaky", "IF", "IF"))
register_kind(
    NeuronKind(
        "lif", LIFParams, VState, lif_step, lambda p: (_rest(p.v_reset),), "leaky", "LIF", "LIF", learnable_leak=True
    )
)
register_kind(
    NeuronKind("alif", ALIFParams, ALIFState, alif_step, lambda p: (_rest(p.v_reset), 0.0), "alif", "ALIF", None)
)
register_kind(
    NeuronKind(
        "cuba_lif", CubaLIFParams, CubaState, cuba_lif_step, lambda p: (p.v_leak, 0.0), "cuba", "CubaLIF", "CubaLIF"
    )
)
register_kind(NeuronKind("li", LIParams, VState, li_step, lambda p: (p.v_reset,), "leaky", "LI", "LI", spiking=False))

STEPS: dict[str, Callable] = {name: kind.step for name, kind in KINDS.items()}
PARAMS: dict[str, type] = {name: kind.params for name, kind in KINDS.items()}


def initial_state(kind: str, p: NeuronParams, like: torch.Tensor, full: Optional[Callable] = None) -> tuple:
    """Resting state shaped like ``like`` (one time step of input).

    ``full(shape, value, dtype, device)`` allocates each field (default ``torch.full``); the
    neuron modules pass the kernels' buffer pool so a training step faults in no fresh pages.
    """
    record = KINDS.get(kind)
    if full is None:

        def full(shape, value, dtype, device):
            return torch.full(shape, value, dtype=dtype, device=device)

    shape = tuple(like.shape)
    return record.state(*(full(shape, float(value), like.dtype, like.device) for value in record.rest(p)))


def run_sequence(
    kind: str,
    x_seq: torch.Tensor,
    state: tuple,
    p: NeuronParams,
    surrogate: Surrogate,
    k: Optional[Scalar] = None,
    return_v: bool = False,
):
    """The one time loop: apply the step of ``kind`` over ``x_seq`` (T, ...).

    Returns ``(out_seq (T, ...), final_state, v_seq or None)``.
    """
    record = KINDS.get(kind)
    step = record.step
    extra = (k,) if record.learnable_leak else ()
    outs, vs = [], []
    for t in range(x_seq.shape[0]):
        out, state = step(x_seq[t], state, p, surrogate, *extra)
        outs.append(out)
        if return_v:
            vs.append(state.v)
    v_seq = torch.stack(vs) if return_v else None
    return torch.stack(outs), state, v_seq
