"""Spiking ResNet with membrane shortcuts (MS-ResNet, Hu et al. 2021) for static images.

The image is repeated over ``T`` steps (direct encoding), so the stem convolution sees real
values. A basic block adds its residual to the *membrane* input (pre-activation ordering):

``y = BN(Conv(LIF(BN(Conv(LIF(x)))))) + shortcut(x)``, ``shortcut`` the identity or
``BN(Conv1x1_stride(x))`` when the shape changes. The head is ``LIF -> global average pool ->
Linear`` per step; the output is ``(T, B, classes)``.

Architectures: ``resnet18`` (stages [2, 2, 2, 2], widths 64..512), ``resnet19`` (the tdBN /
MS-ResNet CIFAR variant: stages [3, 3, 2], widths 128, 256, 512), ``resnet34`` ([3, 4, 6, 3]).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import torch
from torch import nn

from snnlab import nn as snn
from snnlab.errors import ConfigError, ShapeError
from snnlab.models.common import NeuronSpec
from snnlab.models.registry import register_model

ARCHS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "resnet18": ((2, 2, 2, 2), (64, 128, 256, 512)),
    "resnet19": ((3, 3, 2), (128, 256, 512)),
    "resnet34": ((3, 4, 6, 3), (64, 128, 256, 512)),
}


def _conv_bn(c_in: int, c_out: int, k: int, stride: int, pool: bool = False) -> snn.TimeDistributed:
    layers = [nn.Conv2d(c_in, c_out, k, stride=1 if pool else stride, padding=k // 2, bias=False),
              nn.BatchNorm2d(c_out)]
    if pool and stride != 1:
        layers.append(nn.MaxPool2d(3, stride=stride, padding=1))
    return snn.TimeDistributed(*layers)


class MSBasicBlock(nn.Module):
    """Membrane-shortcut basic block: ``(T, B, C_in, H, W) -> (T, B, C_out, H/stride, W/stride)``.

    ``pool=True`` downsamples the first convolution with ``MaxPool(3, stride, 1)`` after its batch
    norm instead of striding it (Max-ResNet's downsampling block); the shortcut stays strided.
    """

    def __init__(self, c_in: int, c_out: int, stride: int, spec: NeuronSpec, pool: bool = False) -> None:
        super().__init__()
        self.neuron1 = spec.build()
        self.conv1 = _conv_bn(c_in, c_out, 3, stride, pool)
        self.neuron2 = spec.build()
        self.conv2 = _conv_bn(c_out, c_out, 3, 1)
        self.shortcut = _conv_bn(c_in, c_out, 1, stride) if stride != 1 or c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(self.neuron1(x))
        out = self.conv2(self.neuron2(out))
        return out + self.shortcut(x)


@register_model("spiking_resnet")
class SpikingResNet(nn.Module):
    """MS-ResNet for CIFAR-sized images with direct encoding over ``T`` steps.

    Args:
        arch: "resnet18", "resnet19" or "resnet34" (see module docstring); ``layers`` and
            ``widths`` override it.
        num_classes: output units.
        in_channels: image channels.
        T: time steps of the direct encoding (used when the input is ``(B, C, H, W)``;
            a time-major ``(T, B, C, H, W)`` input is used as given).
        layers: blocks per stage, overriding ``arch``.
        widths: channels per stage, overriding ``arch``; the stem has ``widths[0]`` channels.
        neuron, tau, v_threshold, v_reset, decay_input, detach_reset, surrogate, surrogate_alpha:
            spiking neuron options (see :class:`snnlab.models.common.NeuronSpec`).
        dt: seconds per step (metadata).
        backend: neuron kernel backend.
    """

    def __init__(self, arch: str = "resnet19", num_classes: int = 10, in_channels: int = 3, T: int = 4,
                 layers: Optional[Sequence[int]] = None, widths: Optional[Sequence[int]] = None,
                 neuron: str = "lif", tau: float = 2.0, v_threshold: float = 1.0, v_reset: Optional[float] = 0.0,
                 decay_input: bool = True, detach_reset: bool = True, surrogate: str = "atan",
                 surrogate_alpha: float = 2.0, dt: float = 1e-3, backend: str = "auto") -> None:
        super().__init__()
        if arch not in ARCHS:
            raise ConfigError(f"spiking_resnet: unknown arch '{arch}'; valid: {', '.join(ARCHS)}")
        layers = tuple(layers) if layers is not None else ARCHS[arch][0]
        widths = tuple(widths) if widths is not None else ARCHS[arch][1]
        if len(layers) != len(widths) or not layers or min(layers) < 1 or min(widths) < 1:
            raise ConfigError(f"spiking_resnet: layers {list(layers)} and widths {list(widths)} must be non-empty "
                              "positive lists of the same length")
        spec = NeuronSpec(neuron, tau, v_threshold, v_reset, decay_input, detach_reset, surrogate,
                          surrogate_alpha, backend)
        self.encoder = snn.DirectEncoder(int(T))
        self.num_classes, self.dt, self.in_channels = int(num_classes), float(dt), int(in_channels)
        self.stem = _conv_bn(self.in_channels, widths[0], 3, 1)
        self.stages = nn.Sequential(*self._make_stages(layers, widths, spec))
        self.head_neuron = spec.build()
        self.fc_out = snn.TimeDistributed(nn.Linear(widths[-1], self.num_classes))

    @staticmethod
    def _make_stages(layers: Sequence[int], widths: Sequence[int], spec: NeuronSpec) -> list[nn.Module]:
        stages, c_in = [], widths[0]
        for i, (n_blocks, c_out) in enumerate(zip(layers, widths)):
            stride = 1 if i == 0 else 2
            blocks = [MSBasicBlock(c_in, c_out, stride, spec)]
            blocks += [MSBasicBlock(c_out, c_out, 1, spec) for _ in range(n_blocks - 1)]
            stages.append(nn.Sequential(*blocks))
            c_in = c_out
        return stages

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x (B, C, H, W)`` or ``(T, B, C, H, W)`` -> per-step outputs ``(T, B, num_classes)``."""
        if x.dim() == 4:
            x = self.encoder(x)  # (T, B, C, H, W)
        if x.dim() != 5 or x.shape[2] != self.in_channels:
            raise ShapeError(f"spiking_resnet: expected (B, {self.in_channels}, H, W) or "
                             f"(T, B, {self.in_channels}, H, W), got {tuple(x.shape)}")
        h = self.stages(self.stem(x))  # (T, B, C, H', W')
        h = self.head_neuron(h).mean(dim=(3, 4))  # (T, B, C)
        return self.fc_out(h)  # (T, B, classes)
