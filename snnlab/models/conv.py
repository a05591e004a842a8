"""Convolutional SNN for event cameras (N-MNIST, the embedded digits).

Per block ``l``: ``I_l[t] = BN(Conv_l(s_{l-1}[t]))``, ``s_l[t] = LIF(I_l[t])``, then 2x2
pooling of the spikes: max (the classic choice), average or sum. NIR has no max pooling, so
only the ``avg`` and ``sum`` variants export (``snnlab export``) and simulate event-driven. The classic N-MNIST network is ``12c5-MP2-64c5-MP2-FC`` (as in
spiking-network tutorials since Lee et al. 2016); the readout is a leaky integrator over
``W_o flatten(s_L[t])``.
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

POOL_KINDS = ("max", "avg", "sum")


def _pooling(kind: str, size: int) -> nn.Module:
    """A ``size`` x ``size`` pooling of ``kind``; sum pooling is average pooling without the division."""
    if kind == "max":
        return nn.MaxPool2d(size)
    return nn.AvgPool2d(size, divisor_override=1 if kind == "sum" else None)


@register_model("conv_snn")
class ConvSNN(nn.Module):
    """Conv -> (BN) -> spiking neuron -> pooling blocks, then Linear -> readout.

    Args:
        input_shape: per-step input (C, H, W), e.g. (2, 34, 34) for N-MNIST.
        num_classes: output units.
        channels: output channels of each conv block (classic: 12, 64).
        kernel_size: square conv kernel size.
        padding: conv padding (0 reproduces the classic 34 -> 30 -> 15 -> 11 -> 5 sizes).
        pool: pooling size after each block (1 disables pooling).
        pool_kind: "max" (not exportable to NIR), "avg" (NIR AvgPool2d) or "sum" (NIR SumPool2d).
        batch_norm: BatchNorm2d after each conv (statistics over T*B).
        dropout: sequence dropout before the output layer.
        neuron, tau, v_threshold, v_reset, decay_input, detach_reset, surrogate, surrogate_alpha:
            spiking neuron options (see :class:`snnlab.models.common.NeuronSpec`).
        readout: "li" (membrane output) or "lif" (spike output).
        readout_tau: readout time constant, in steps.
        dt: seconds per step (metadata).
        backend: neuron kernel backend.
    """

    input_layout = TIME_MAJOR  # x (T, B, ...)

    def __init__(
        self,
        input_shape: Sequence[int] = (2, 34, 34),
        num_classes: int = 10,
        channels: Sequence[int] = (12, 64),
        kernel_size: int = 5,
        padding: int = 0,
        pool: int = 2,
        pool_kind: str = "max",
        batch_norm: bool = True,
        dropout: float = 0.0,
        neuron: str = "lif",
        tau: float = 2.0,
        v_threshold: float = 1.0,
        v_reset: Optional[float] = 0.0,
        decay_input: bool = True,
        detach_reset: bool = True,
        surrogate: str = "atan",
        surrogate_alpha: float = 2.0,
        readout: str = "li",
        readout_tau: float = 2.0,
        dt: float = 1e-3,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        if len(input_shape) != 3 or not channels or min(channels) < 1:
            raise ConfigError(
                f"conv_snn: input_shape must be (C, H, W) and channels non-empty positive, got "
                f"input_shape={list(input_shape)}, channels={list(channels)}"
            )
        if pool_kind not in POOL_KINDS:
            raise ConfigError(f"conv_snn: pool_kind must be one of {', '.join(POOL_KINDS)}, got {pool_kind!r}")
        spec = NeuronSpec(
            neuron, tau, v_threshold, v_reset, decay_input, detach_reset, surrogate, surrogate_alpha, backend
        )
        self.input_shape = tuple(int(s) for s in input_shape)
        self.num_classes, self.dt = int(num_classes), float(dt)
        blocks, c_in = [], self.input_shape[0]
        for c_out in channels:
            block = self._conv_block(c_in, int(c_out), kernel_size, padding, batch_norm, spec)
            if pool > 1:
                block.add_module("pool", snn.TimeDistributed(_pooling(pool_kind, pool)))
            blocks.append(block)
            c_in = int(c_out)
        self.features = nn.ModuleList(blocks)
        n_flat = self._flat_features()
        self.dropout = snn.SeqDropout(check_probability("dropout", dropout))
        self.fc_out = snn.TimeDistributed(nn.Linear(n_flat, self.num_classes))
        self.readout = build_readout(readout, spec, readout_tau)

    @staticmethod
    def _conv_block(c_in: int, c_out: int, k: int, pad: int, bn: bool, spec: NeuronSpec) -> nn.Sequential:
        synapse: list[nn.Module] = [nn.Conv2d(c_in, c_out, k, padding=pad, bias=not bn)]
        if bn:
            synapse.append(nn.BatchNorm2d(c_out))
        block = nn.Sequential()
        block.add_module("synapse", snn.TimeDistributed(*synapse))
        block.add_module("neuron", spec.build())
        return block

    def _flat_features(self) -> int:
        """Features after the conv stack for one step, found with a dry run on zeros."""
        h = torch.zeros(1, 1, *self.input_shape)  # (T=1, B=1, C, H, W)
        try:
            with torch.no_grad():
                for block in self.features:
                    h = block[0](h)  # synapse only: the shape does not depend on spikes
                    h = block[2](h) if len(block) > 2 else h
        except RuntimeError:  # a kernel larger than its input
            h = torch.zeros(0)
        if h.numel() == 0:
            raise ConfigError(
                f"conv_snn: input {list(self.input_shape)} is too small for {len(self.features)} "
                "conv/pool blocks; lower model.kernel_size or model.pool, or raise model.padding"
            )
        return int(h[0, 0].numel())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x (T, B, C, H, W)`` -> per-step outputs ``(T, B, num_classes)``."""
        if x.dim() != 5 or tuple(x.shape[2:]) != self.input_shape:
            raise ShapeError(
                f"conv_snn: expected (T, B, {', '.join(map(str, self.input_shape))}), "
                f"got {tuple(x.shape)}; set model.input_shape"
            )
        h = x
        for block in self.features:
            h = block(h)  # (T, B, C_l, H_l, W_l)
        h = self.dropout(h.flatten(2))  # (T, B, F)
        return self.readout(self.fc_out(h))  # (T, B, classes)
