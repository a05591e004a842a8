"""Pieces shared by the model families: the neuron factory and input-shape helpers.

Every family exposes the same neuron options (``neuron``, ``tau``, ``v_threshold``,
``v_reset``, ``decay_input``, ``detach_reset``, ``surrogate``, ``surrogate_alpha``,
``backend``), so ``--set model.tau=4.0`` means the same thing for all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from torch import nn

from snnlab import nn as snn
from snnlab.errors import ConfigError

NEURONS = ("lif", "if", "plif", "alif", "cuba_lif")
READOUTS = ("li", "lif")


@dataclass(frozen=True)
class NeuronSpec:
    """How to build the spiking neurons of a model (``tau`` in time steps)."""

    neuron: str = "lif"
    tau: float = 2.0  # steps
    v_threshold: float = 1.0
    v_reset: Optional[float] = 0.0  # None: soft reset by subtraction
    decay_input: bool = True
    detach_reset: bool = True
    surrogate: str = "atan"
    surrogate_alpha: float = 2.0
    backend: str = "auto"

    def __post_init__(self) -> None:
        if self.neuron not in NEURONS:
            raise ConfigError(f"model.neuron: unknown neuron '{self.neuron}'; valid: {', '.join(NEURONS)}")
        if not self.tau > 0:
            raise ConfigError(f"model.tau must be > 0 steps, got {self.tau!r}")

    def build(self) -> snn.SpikingNeuron:
        """A fresh neuron module (multi-step, time-major)."""
        sg = {"name": self.surrogate, "alpha": self.surrogate_alpha}
        common: dict[str, Any] = dict(
            v_threshold=self.v_threshold,
            v_reset=self.v_reset,
            detach_reset=self.detach_reset,
            surrogate=sg,
            backend=self.backend,
        )
        if self.neuron == "if":
            return snn.IF(**common)
        if self.neuron == "plif":
            return snn.PLIF(init_tau=max(self.tau, 1.0 + 1e-3), decay_input=self.decay_input, **common)
        if self.neuron == "alif":
            return snn.ALIF(tau=self.tau, decay_input=self.decay_input, **common)
        if self.neuron == "cuba_lif":
            return snn.CubaLIF(tau_mem=self.tau, tau_syn=max(self.tau / 2.0, 1.0), **common)
        return snn.LIF(tau=self.tau, decay_input=self.decay_input, **common)


def build_readout(kind: str, spec: NeuronSpec, tau: float) -> nn.Module:
    """The output neurons: ``"li"`` (membrane, never spikes) or ``"lif"`` (spikes)."""
    if kind not in READOUTS:
        raise ConfigError(f"model.readout: unknown readout '{kind}'; valid: {', '.join(READOUTS)}")
    if kind == "li":
        return snn.LI(tau=tau, decay_input=spec.decay_input, backend=spec.backend)
    return NeuronSpec(**{**spec.__dict__, "neuron": "lif", "tau": tau}).build()


def check_probability(name: str, p: float) -> float:
    """Return ``p`` or raise ConfigError when it is not in [0, 1)."""
    if not 0.0 <= float(p) < 1.0:
        raise ConfigError(f"model.{name} must be in [0, 1), got {p!r}")
    return float(p)
