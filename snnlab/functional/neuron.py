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
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Callable, NamedTuple, Optional, Union

import torch

from snnlab.functional.surrogate import Surrogate

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
        _check_finite(type(self).__name__, r=self.r, v_leak=self.v_leak, w_in=self.w_in,
                      v_threshold=self.v_threshold, v_reset=self.v_reset)


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
    if decay_input:
        return v + k * (x - (v - v_rest))
    return v - k * (v - v_rest) + x


def fire_and_reset(h: torch.Tensor, theta: Scalar, v_reset: Optional[float], detach_reset: bool,
                   surrogate: Surrogate) -> tuple[torch.Tensor, torch.Tensor]:
    """Spike where ``h >= theta`` and reset; returns ``(spike, v)``."""
    s = surrogate(h - theta)
    sr = s.detach() if detach_reset else s
    if v_reset is None:
        return s, h - sr * theta
    return s, h - sr * (h - v_reset)


def if_step(x, state: VState, p: IFParams, surrogate: Surrogate):
    h = state.v + x
    s, v = fire_and_reset(h, p.v_threshold, p.v_reset, p.detach_reset, surrogate)
    return s, VState(v)


def lif_step(x, state: VState, p: LIFParams, surrogate: Surrogate, k: Optional[Scalar] = None):
    k = 1.0 / p.tau if k is None else k
    h = lif_charge(state.v, x, k, _rest(p.v_reset), p.decay_input)
    s, v = fire_and_reset(h, p.v_threshold, p.v_reset, p.detach_reset, surrogate)
    return s, VState(v)


def alif_step(x, state: ALIFState, p: ALIFParams, surrogate: Surrogate):
    h = lif_charge(state.v, x, 1.0 / p.tau, _rest(p.v_reset), p.decay_input)
    theta = p.v_threshold + p.beta * state.a
    s, v = fire_and_reset(h, theta, p.v_reset, p.detach_reset, surrogate)
    a = state.a * (1.0 - 1.0 / p.tau_adapt) + s
    return s, ALIFState(v, a)


def cuba_lif_step(x, state: CubaState, p: CubaLIFParams, surrogate: Surrogate):
    i = state.i + (p.w_in * x - state.i) / p.tau_syn
    h = state.v + (p.v_leak - state.v + p.r * i) / p.tau_mem
    s, v = fire_and_reset(h, p.v_threshold, p.v_reset, p.detach_reset, surrogate)
    return s, CubaState(v, i)


def li_step(x, state: VState, p: LIParams, surrogate: Optional[Surrogate] = None):
    v = lif_charge(state.v, x, 1.0 / p.tau, p.v_reset, p.decay_input)
    return v, VState(v)


STEPS: dict[str, Callable] = {
    "if": if_step, "lif": lif_step, "alif": alif_step, "cuba_lif": cuba_lif_step, "li": li_step,
}
PARAMS: dict[str, type] = {
    "if": IFParams, "lif": LIFParams, "alif": ALIFParams, "cuba_lif": CubaLIFParams, "li": LIParams,
}


def initial_state(kind: str, p: NeuronParams, like: torch.Tensor) -> tuple:
    """Resting state shaped like ``like`` (one time step of input); large CPU states come from
    the buffer pool (:mod:`snnlab.kernels.pool`), so a training step faults in no fresh pages."""
    from snnlab.kernels import pool

    def full(value: float) -> torch.Tensor:
        return pool.full(tuple(like.shape), value, like.dtype, like.device)

    v0 = full(_rest(getattr(p, "v_reset", 0.0)))
    if kind == "cuba_lif":
        return CubaState(full(p.v_leak), full(0.0))
    if kind == "alif":
        return ALIFState(v0, full(0.0))
    return VState(v0)


def run_sequence(kind: str, x_seq: torch.Tensor, state: tuple, p: NeuronParams, surrogate: Surrogate,
                 k: Optional[Scalar] = None, return_v: bool = False):
    """The one time loop: apply the step of ``kind`` over ``x_seq`` (T, ...).

    Returns ``(out_seq (T, ...), final_state, v_seq or None)``.
    """
    step = STEPS[kind]
    extra = (k,) if kind == "lif" else ()
    outs, vs = [], []
    for t in range(x_seq.shape[0]):
        out, state = step(x_seq[t], state, p, surrogate, *extra)
        outs.append(out)
        if return_v:
            vs.append(state.v)
    v_seq = torch.stack(vs) if return_v else None
    return torch.stack(outs), state, v_seq
