"""Liquid-state machine whose fixed random weights live in resistive memory.

A recurrent LIF reservoir (Lin et al., Nat. Comput. Sci. 5:37-47, 2025)::

    I[t] = W_in x[t] + W_rec s[t-1]                  # x binary input events, s reservoir spikes
    v[t] = decay * v[t-1] + I[t];  s[t] = v[t] >= threshold;  v[t] = 0 where s[t]

``decay`` is the paper's per-step membrane decay; it is snnlab's LIF with ``decay_input=False``
and ``tau = 1 / (1 - decay)`` steps, hard reset to 0, run step by step through the neuron
kernels. Weights are never trained: in software they are ``const * N(0, 1)``; on RRAM they are
``const * (G+ - G-) / (sqrt(2) * g_std_nominal)`` from formed (random) conductances, so both have
the same spread for the profile's device, and every step reads the crossbar with read noise.
The conductance-to-weight unit is calibrated once on the *nominal* profile (it is a property of
the peripheral circuit), so ``device_overrides`` that change the device (a wider spread, stuck
cells) change the effective weights, as they would on a chip. The features for the trainable
readout are the reservoir spike counts.

Read noise is applied per sample and step on the column currents:
``sum_i x_i G_ij (1 + eta n_ij)`` has, for Gaussian ``n``, the law of
``sum_i x_i G_ij + eta * sqrt(sum_i x_i^2 G_ij^2) * N(0, 1)``, which is what is sampled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
import torch
from torch import nn

from snnlab.errors import ConfigError, ShapeError
from snnlab.hw import rram
from snnlab.hw.rram import CrossbarActivity, crossbar_energy
from snnlab.nn import LIF


@dataclass
class LSMConfig:
    """Reservoir hyperparameters (the paper's names)."""

    n_inputs: int
    n_reservoir: int = 200
    decay: float = 0.9  # membrane decay per step
    threshold: float = 5.0
    const: float = 0.07  # weight scale
    input_gain: float = 100.0  # multiplies W_in (the reference code's `scale`)
    rec_gain: float = 1.0  # multiplies W_rec
    seed: int = 0
    hardware: Optional[str] = None  # RRAM macro profile ("rram_40nm") or None for software weights
    device_overrides: dict[str, Any] = field(default_factory=dict)  # e.g. {"g_std_us": 20, "read_noise": 0.05}

    def validate(self) -> None:
        checks = {
            "n_inputs": self.n_inputs >= 1,
            "n_reservoir": self.n_reservoir >= 1,
            "decay": 0.0 <= self.decay < 1.0,
            "threshold": self.threshold > 0,
            "const": self.const > 0,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ConfigError(
                f"LSM config: invalid {bad}; need n_inputs, n_reservoir >= 1, 0 <= decay < 1, "
                f"threshold > 0, const > 0 (got {self})"
            )


def _load_macro(cfg: LSMConfig) -> Optional[rram.RRAMMacro]:
    """The macro of ``cfg.hardware`` with ``device_overrides`` applied (None for software weights)."""
    if not cfg.hardware:
        if cfg.device_overrides:
            raise ConfigError(f"LSM: device_overrides {cfg.device_overrides} need lsm.hardware (e.g. 'rram_40nm')")
        return None
    valid = set(rram.RRAMDevice.__dataclass_fields__)
    unknown = sorted(set(cfg.device_overrides) - valid)
    if unknown:
        raise ConfigError(f"LSM: unknown device_overrides {unknown}; valid: {sorted(valid)}")
    return rram.load_macro(cfg.hardware).with_device(**cfg.device_overrides)


class LiquidStateMachine(nn.Module):
    """Fixed random recurrent LIF reservoir; ``forward(x (T, B, n_inputs)) -> spikes (T, B, n_reservoir)``."""

    def __init__(self, cfg: LSMConfig) -> None:
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.macro = _load_macro(cfg)
        gp, gm, unit = self._sample_weights(cfg)
        gain = np.concatenate([np.full(cfg.n_inputs, cfg.input_gain), np.full(cfg.n_reservoir, cfg.rec_gain)])[:, None]
        self.register_buffer("g_plus", torch.tensor(gp, dtype=torch.float32))  # (rows, n)
        self.register_buffer("g_minus", torch.tensor(gm, dtype=torch.float32))  # (rows, n)
        self.register_buffer("row_scale", torch.tensor(unit * gain, dtype=torch.float32))  # (rows, 1)
        self.register_buffer("row_conductance_us", self._row_conductance(gp, gm))  # (rows,)
        self.neuron = LIF(
            tau=1.0 / (1.0 - cfg.decay), v_threshold=cfg.threshold, v_reset=0.0, decay_input=False, step_mode="s"
        )
        self.energy = EnergyCounter()
        self.noise = torch.Generator().manual_seed(cfg.seed + 1)

    def _sample_weights(self, cfg: LSMConfig) -> tuple[np.ndarray, np.ndarray, float]:
        """Conductance pairs (or software weights) ``(rows, n)`` and the weight per unit."""
        rng = np.random.default_rng(cfg.seed)
        rows, n = cfg.n_inputs + cfg.n_reservoir, cfg.n_reservoir
        if self.macro is None:
            gp, gm, unit = rng.standard_normal((rows, n)), np.zeros((rows, n)), cfg.const
        else:
            self.macro.check_fits(rows, n, what=f"reservoir ({cfg.n_inputs} inputs + {n} recurrent rows, {n} neurons)")
            gp = rram.sample_conductances(self.macro.device, (rows, n), rng)
            gm = rram.sample_conductances(self.macro.device, (rows, n), rng)
            nominal = rram.load_macro(cfg.hardware).device.g_std_us
            unit = cfg.const / (math.sqrt(2.0) * max(nominal, 1e-12))
        diag = np.diag_indices(n)
        gp[cfg.n_inputs :][diag] = gm[cfg.n_inputs :][diag]  # no self-connections: w_ii = 0
        return gp, gm, unit

    def _row_conductance(self, gp: np.ndarray, gm: np.ndarray) -> torch.Tensor:
        """Conductance (uS) on each row: measured on RRAM, the profile's mean for software weights."""
        if self.macro is not None:
            return torch.tensor((gp + gm).sum(1), dtype=torch.float64)
        g_mean = rram.load_macro("rram_40nm").device.g_mean_us
        return torch.full((gp.shape[0],), 2.0 * g_mean * gp.shape[1], dtype=torch.float64)

    @property
    def weight(self) -> torch.Tensor:
        """Effective (noise-free) weights (rows = inputs then reservoir, cols = neurons)."""
        return self.row_scale * (self.g_plus - self.g_minus)

    def currents(self, rows_in: torch.Tensor) -> torch.Tensor:
        """Input currents (B, n) for row activities ``rows_in`` (B, rows)."""
        current = rows_in @ self.weight
        if self.macro is not None and self.macro.device.read_noise > 0:
            sq = (rows_in * rows_in) @ ((self.row_scale**2) * (self.g_plus**2 + self.g_minus**2))
            noise = torch.randn(current.shape, generator=self.noise)
            current = current + self.macro.device.read_noise * sq.sqrt() * noise
        return current

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[2] != self.cfg.n_inputs:
            raise ShapeError(f"LSM: expected input (T, B, {self.cfg.n_inputs}), got {tuple(x.shape)}")
        T, B, _ = x.shape
        x = (x > 0).float()  # events are binary row activations (OR-pooled bins)
        self.neuron.reset()
        s = torch.zeros(B, self.cfg.n_reservoir)
        out = []
        for t in range(T):
            rows_in = torch.cat([x[t], s], 1)  # (B, rows)
            s = self.neuron(self.currents(rows_in))
            self.energy.add(rows_in, self)
            out.append(s)
        return torch.stack(out)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Spike counts per reservoir neuron: ``(T, B, n_inputs) -> (B, n_reservoir)``."""
        return self.forward(x).sum(0)


class EnergyCounter:
    """Counts the crossbar activity of a reservoir run; :func:`snnlab.hw.rram.crossbar_energy` costs it.

    Per step and sample, every active row (an input event or a reservoir spike) is driven on the
    macro; a step with any active row is one read of all ``2 n`` columns.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget all counts."""
        self.activity = CrossbarActivity()

    def add(self, rows_in: torch.Tensor, lsm: LiquidStateMachine) -> None:
        """Count one step of a batch: ``rows_in`` (B, rows) are the row activities."""
        active = rows_in > 0  # (B, rows)
        a = self.activity
        a.samples_steps += rows_in.shape[0]
        a.active_rows += float(active.sum())
        a.reads += int(active.any(1).sum())
        a.row_conductance_us += float((active.double() @ lsm.row_conductance_us).sum())

    def report(self, lsm: LiquidStateMachine, samples: int) -> dict[str, float]:
        """Energy per inference (pJ) on the RRAM macro and on the digital baseline, by component.

        For a software reservoir the RRAM figures use the profile's mean conductance.
        """
        macro = lsm.macro or rram.load_macro("rram_40nm")
        return crossbar_energy(macro, self.activity, lsm.cfg.n_reservoir, samples)
