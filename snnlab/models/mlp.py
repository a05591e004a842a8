"""Spiking multi-layer perceptron (the SHD baseline and the demo network).

Per hidden layer ``l`` and step ``t``:
``I_l[t] = BN(W_l s_{l-1}[t] + b_l)``, ``s_l[t] = LIF(I_l[t])``, then sequence dropout (one
mask per sample for all steps). The readout ``o[t] = LI(W_o s_L[t])`` is a leaky integrator whose
membrane is the per-step output (or an LIF whose spikes are the output).

Every Linear is a :class:`snnlab.nn.SpikeLinear` (an ``nn.Linear``): on spike inputs (the
hidden layers' spikes, event frames) the forward pass and the weight gradient are computed from
the nonzeros; dense inputs take the dense GEMM.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import torch
from torch import nn

from snnlab import nn as snn
from snnlab.errors import ConfigError, ShapeError
from snnlab.models.common import NeuronSpec, build_readout, check_probability
from snnlab.models.layout import TIME_MAJOR
from snnlab.models.registry import register_model


@register_model("mlp_snn")
class SpikingMLP(nn.Module):
    """Linear -> (BatchNorm) -> spiking neuron -> (dropout), repeated; a readout layer last.

    Args:
        in_features: inputs per step; inputs ``(T, B, ...)`` are flattened to ``(T, B, in_features)``.
        num_classes: output units.
        hidden: widths of the hidden layers.
        neuron: hidden neuron kind (lif, if, plif, alif, cuba_lif).
        tau: hidden membrane time constant, in steps.
        v_threshold: firing threshold.
        v_reset: reset potential; None for soft reset (subtract the threshold).
        decay_input: spikingjelly's ``decay_input`` (input scaled by 1/tau).
        detach_reset: detach the reset from the graph (spikingjelly option).
        surrogate: surrogate gradient name (atan, sigmoid, fast_sigmoid, triangle, rectangular).
        surrogate_alpha: surrogate sharpness.
        batch_norm: BatchNorm1d after each hidden Linear (statistics over T*B).
        dropout: sequence dropout probability after each hidden layer.
        bias: biases in the Linear layers.
        readout: "li" (membrane output) or "lif" (spike output).
        readout_tau: time constant of the readout, in steps.
        dt: seconds per step (metadata for export and hardware costs).
        backend: neuron kernel backend (auto, torch, numba, cuda).
        fuse_bn_neuron: in training, run each hidden block's BatchNorm, LIF/IF and dropout as one
            fused op (``snnlab.nn.batch_norm_neuron``; same result); False runs them one by one.
    """

    input_layout = TIME_MAJOR  # x (T, B, ...)

    def __init__(
        self,
        in_features: int = 512,
        num_classes: int = 10,
        hidden: Sequence[int] = (128,),
        neuron: str = "lif",
        tau: float = 2.0,
        v_threshold: float = 1.0,
        v_reset: Optional[float] = 0.0,
        decay_input: bool = True,
        detach_reset: bool = True,
        surrogate: str = "atan",
        surrogate_alpha: float = 2.0,
        batch_norm: bool = False,
        dropout: float = 0.0,
        bias: bool = True,
        readout: str = "li",
        readout_tau: float = 2.0,
        dt: float = 1e-3,
        backend: str = "auto",
        fuse_bn_neuron: bool = True,
    ) -> None:
        super().__init__()
        if int(in_features) < 1 or int(num_classes) < 1 or any(int(h) < 1 for h in hidden):
            raise ConfigError(
                f"mlp_snn: in_features, num_classes and hidden widths must be >= 1, got "
                f"{in_features}, {num_classes}, {list(hidden)}"
            )
        spec = NeuronSpec(
            neuron, tau, v_threshold, v_reset, decay_input, detach_reset, surrogate, surrogate_alpha, backend
        )
        check_probability("dropout", dropout)
        if not isinstance(fuse_bn_neuron, bool):
            raise ConfigError(f"mlp_snn: fuse_bn_neuron must be true or false, got {fuse_bn_neuron!r}")
        self.in_features, self.num_classes, self.dt = int(in_features), int(num_classes), float(dt)
        layers: list[nn.Module] = []
        width = self.in_features
        for h in hidden:
            layers.append(self._hidden_block(width, int(h), spec, batch_norm, dropout, bias, fuse_bn_neuron))
            width = int(h)
        self.hidden = nn.ModuleList(layers)
        self.fc_out = snn.TimeDistributed(snn.SpikeLinear(width, self.num_classes, bias=bias, backend=spec.backend))
        self.readout = build_readout(readout, spec, readout_tau)

    @staticmethod
    def _hidden_block(
        n_in: int, n_out: int, spec: NeuronSpec, batch_norm: bool, dropout: float, bias: bool, fuse: bool
    ) -> nn.Sequential:
        mods: list[nn.Module] = [snn.SpikeLinear(n_in, n_out, bias=bias, backend=spec.backend)]
        if batch_norm:
            mods.append(snn.BatchNorm1d(n_out, backend=spec.backend))
        block = HiddenBlock(fuse=fuse)
        block.add_module("synapse", snn.TimeDistributed(*mods))
        block.add_module("neuron", spec.build())
        if dropout > 0:
            block.add_module("dropout", snn.SeqDropout(dropout))
        return block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x (T, B, ...)`` -> per-step outputs ``(T, B, num_classes)``."""
        if x.dim() < 3:
            raise ShapeError(f"mlp_snn: expected a time-major input (T, B, ...), got shape {tuple(x.shape)}")
        h = x.flatten(2)  # (T, B, F)
        if h.shape[-1] != self.in_features:
            raise ShapeError(
                f"mlp_snn: expected {self.in_features} features per step, got {h.shape[-1]} "
                f"(input shape {tuple(x.shape)}); set model.in_features"
            )
        for block in self.hidden:
            h = block(h)  # (T, B, H)
        return self.readout(self.fc_out(h))  # (T, B, C)


class HiddenBlock(nn.Sequential):
    """``synapse`` (Linear, BatchNorm) -> ``neuron`` -> (``dropout``): a Sequential whose training pass
    runs BatchNorm, neuron and dropout as one fused op (:func:`snnlab.nn.batch_norm_neuron`) when
    ``fuse`` is set and the synapse ends in a BatchNorm; same modules, state dict and result."""

    def __init__(self, fuse: bool = True) -> None:
        super().__init__()
        self.fuse = fuse

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x (T, B, F)`` -> ``(T, B, H)``."""
        mods = getattr(self.synapse.module, "_modules", {})
        norm = list(mods.values())[-1] if mods else None
        if not (self.fuse and self.training and isinstance(norm, nn.BatchNorm1d)) or self.synapse._forward_hooks:
            return super().forward(x)
        h = x
        for m in list(mods.values())[:-1]:
            h = m(h)  # (T, B, H): the Linear on any leading shape
        dropout = getattr(self, "dropout", None)
        mask = dropout.sample_mask(h[0]) if dropout is not None else None  # (B, H) or None
        return snn.batch_norm_neuron(h, norm, self.neuron, mask)
