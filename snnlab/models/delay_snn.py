"""Spiking MLP with learnable synaptic delays (Hammouamri, Khalfaoui-Hassani, Masquelier, ICLR 2024).

Per hidden layer ``l`` (time-major, every layer adds ``right_pad`` steps)::

    I_l = BN(DelayedLinear_l(s_{l-1}))       # (T_l, B, H), BN statistics over T_l * B
    s_l = SeqDropout(LIF(I_l))               # one dropout mask for all steps
    out = LI(DelayedLinear_out(s_L))         # (T_L + right_pad, B, classes), membrane readout

The LI readout with ``decay_input=False`` equals the paper's LIF with threshold 1e9. The model
forwards the trainer hooks to its delay layers: :meth:`on_epoch_end` (sigma schedule) and
:meth:`after_optimizer_step` (position clamp); ``eval()`` switches to integer delays.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import torch
from torch import nn

from snnlab import nn as snn
from snnlab.errors import ConfigError, ShapeError
from snnlab.models.common import NeuronSpec, check_probability
from snnlab.models.layout import TIME_MAJOR
from snnlab.models.registry import register_model
from snnlab.nn.delay import DelayedLinear


@register_model("delay_snn")
class DelaySNN(nn.Module):
    """DelayedLinear -> BatchNorm -> LIF -> SeqDropout per hidden layer; DelayedLinear -> LI readout.

    Args:
        in_features: inputs per step (SHD/SSC: 700 channels in groups of 5 -> 140).
        num_classes: output units.
        hidden: widths of the hidden layers.
        max_delay: kernel size per delay layer, steps (delays in ``[0, max_delay)``).
        kernel_count: delay taps per synapse.
        right_pad: steps appended per layer; default ``(max_delay - 1) // 2`` (the paper).
        sigma_init: initial Gaussian sigma; default ``max_delay // 2`` (the paper).
        truncate: training window half-width in Gaussian widths (fast taps path).
        tau: hidden LIF time constant, steps.
        v_threshold: hidden firing threshold.
        v_reset: hidden reset potential (hard reset); None for soft reset.
        decay_input: spikingjelly's ``decay_input`` for hidden and readout neurons.
        detach_reset: detach the reset from the graph.
        surrogate: surrogate gradient name.
        surrogate_alpha: surrogate sharpness.
        batch_norm: BatchNorm1d after each hidden delay layer (statistics over T*B).
        dropout: sequence dropout probability after each hidden layer.
        bias: biases in the delay layers.
        readout_tau: time constant of the LI readout, steps.
        dt: seconds per step (metadata for export and hardware costs).
        backend: neuron kernel backend.
        delay_backend: ``delay.taps`` kernel backend.
    """

    input_layout = TIME_MAJOR  # x (T, B, ...)

    def __init__(
        self,
        in_features: int = 140,
        num_classes: int = 20,
        hidden: Sequence[int] = (256, 256),
        max_delay: int = 25,
        kernel_count: int = 1,
        right_pad: Optional[int] = None,
        sigma_init: Optional[float] = None,
        truncate: float = 3.0,
        tau: float = 1.005,
        v_threshold: float = 1.0,
        v_reset: Optional[float] = 0.0,
        decay_input: bool = False,
        detach_reset: bool = True,
        surrogate: str = "atan",
        surrogate_alpha: float = 5.0,
        batch_norm: bool = True,
        dropout: float = 0.4,
        bias: bool = False,
        readout_tau: float = 1.005,
        dt: float = 0.01,
        backend: str = "auto",
        delay_backend: str = "auto",
    ) -> None:
        super().__init__()
        if int(in_features) < 1 or int(num_classes) < 1 or any(int(h) < 1 for h in hidden):
            raise ConfigError(
                f"delay_snn: in_features, num_classes and hidden widths must be >= 1, got "
                f"{in_features}, {num_classes}, {list(hidden)}"
            )
        self.spec = NeuronSpec(
            "lif", tau, v_threshold, v_reset, decay_input, detach_reset, surrogate, surrogate_alpha, backend
        )
        check_probability("dropout", dropout)
        self.in_features, self.num_classes, self.dt = int(in_features), int(num_classes), float(dt)
        self._delay_kw = dict(
            max_delay=max_delay,
            kernel_count=kernel_count,
            right_pad=right_pad,
            sigma_init=sigma_init,
            truncate=truncate,
            bias=bias,
            backend=delay_backend,
        )
        widths = [self.in_features, *(int(h) for h in hidden)]
        self.blocks = nn.ModuleList(self._block(a, b, batch_norm, dropout) for a, b in zip(widths, widths[1:]))
        self.fc_out = self._delay(widths[-1], self.num_classes)
        self.readout = snn.LI(tau=readout_tau, decay_input=decay_input, backend=backend)

    def _delay(self, n_in: int, n_out: int) -> DelayedLinear:
        try:
            return DelayedLinear(n_in, n_out, **self._delay_kw)
        except ValueError as err:
            raise ConfigError(f"delay_snn: {err}") from None

    def _block(self, n_in: int, n_out: int, batch_norm: bool, dropout: float) -> nn.Sequential:
        block = nn.Sequential()
        block.add_module("delay", self._delay(n_in, n_out))
        if batch_norm:
            block.add_module("norm", snn.TimeDistributed(snn.BatchNorm1d(n_out, backend=self.spec.backend)))
        block.add_module("neuron", self.spec.build())
        if dropout > 0:
            block.add_module("dropout", snn.SeqDropout(dropout))
        return block

    def delay_layers(self) -> list[DelayedLinear]:
        """Every delay layer, input to output."""
        return [m for m in self.modules() if getattr(m, "is_delay_layer", False)]

    def on_epoch_end(self, epoch: int, epochs: int) -> None:
        """Trainer hook: the sigma schedule of every delay layer."""
        for layer in self.delay_layers():
            layer.on_epoch_end(epoch, epochs)

    def after_optimizer_step(self) -> None:
        """Trainer hook: clamp the positions of every delay layer."""
        for layer in self.delay_layers():
            layer.after_optimizer_step()

    def output_length(self, steps: int) -> int:
        """Output steps for ``steps`` input steps (each delay layer appends its ``right_pad``)."""
        for layer in self.delay_layers():
            steps = layer.output_length(steps)
        return steps

    def paper_parameter_count(self) -> int:
        """Trainable parameters as the paper counts them: weights, positions, BN affine (sigma excluded)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x (T, B, in_features)`` -> per-step readout membrane ``(T', B, num_classes)``."""
        if x.dim() < 3:
            raise ShapeError(f"delay_snn: expected a time-major input (T, B, ...), got shape {tuple(x.shape)}")
        h = x.flatten(2)  # (T, B, F)
        if h.shape[-1] != self.in_features:
            raise ShapeError(
                f"delay_snn: expected {self.in_features} features per step, got {h.shape[-1]} "
                f"(input shape {tuple(x.shape)}); set model.in_features"
            )
        h = h.to(self.fc_out.weight.dtype)
        for block in self.blocks:
            h = block(h)  # (T_l, B, H)
        return self.readout(self.fc_out(h))  # (T', B, C)
