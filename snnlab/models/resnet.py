"""Spiking ResNets for static images: membrane shortcuts (MS-ResNet) or spikes after the add (tdBN/TET).

The image is repeated over ``T`` steps (direct encoding), so the stem convolution sees real
values. Two block kinds (``block``):

- ``"ms"`` (MS-ResNet, Hu et al. 2021): the residual is added to the *membrane* input
  (pre-activation ordering), ``y = BN(Conv(LIF(BN(Conv(LIF(x)))))) + shortcut(x)``; the head is
  ``LIF -> global average pool -> Linear``.
- ``"spike_after_add"`` (the ResNet-19 of tdBN, Zheng et al. AAAI 2021, as the TET official code
  ``models/resnet_models.py`` builds it): ``y = LIF(BN(Conv(LIF(BN(Conv(x))))) + shortcut(x))``,
  the stem is ``Conv -> BN -> LIF``; with ``head_hidden=256`` the head is ``global average pool ->
  Linear 256 -> LIF -> Linear``. (Plain BatchNorm over T*B stands in for tdBN's
  threshold-dependent normalisation.)

``shortcut`` is the identity or ``BN(Conv1x1_stride(x))`` when the shape changes. The output is
``(T, B, classes)``.

Architectures: ``resnet18`` (stages [2, 2, 2, 2], widths 64..512), ``resnet19`` (the tdBN /
MS-ResNet CIFAR variant: stages [3, 3, 2], widths 128, 256, 512), ``resnet34`` ([3, 4, 6, 3]).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Optional

import torch
from torch import nn

from snnlab import nn as snn
from snnlab.errors import ConfigError, ShapeError
from snnlab.models.common import NeuronSpec
from snnlab.models.layout import STATIC_OR_TIME_MAJOR
from snnlab.models.registry import register_model

ARCHS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "resnet18": ((2, 2, 2, 2), (64, 128, 256, 512)),
    "resnet19": ((3, 3, 2), (128, 256, 512)),
    "resnet34": ((3, 4, 6, 3), (64, 128, 256, 512)),
}


def check_stages(model: str, layers: Sequence[int], widths: Sequence[int]) -> None:
    """``layers`` and ``widths`` must be non-empty positive lists of one length (ConfigError naming ``model``)."""
    if len(layers) != len(widths) or not layers or min(layers) < 1 or min(widths) < 1:
        raise ConfigError(
            f"{model}: layers {list(layers)} and widths {list(widths)} must be non-empty positive lists of one length"
        )


def make_stages(
    layers: Sequence[int],
    widths: Sequence[int],
    c_in: int,
    block: Callable[..., nn.Module],
    first: Callable[..., nn.Module],
) -> list[nn.Module]:
    """Stage ``i``: ``first(c_in, widths[i], stride)`` (stride 2 after stage 0), then ``layers[i] - 1``
    ``block(widths[i], widths[i], 1)``; each stage an ``nn.Sequential``."""
    stages = []
    for i, (n_blocks, c_out) in enumerate(zip(layers, widths)):
        blocks = [first(c_in, c_out, 1 if i == 0 else 2)]
        blocks += [block(c_out, c_out, 1) for _ in range(n_blocks - 1)]
        stages.append(nn.Sequential(*blocks))
        c_in = c_out
    return stages


def encode_images(model: nn.Module, name: str, x: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W)`` repeated by ``model.encoder``, or ``(T, B, C, H, W)`` as given -> ``(T, B, C, H, W)``;
    any other shape raises a ShapeError naming ``name``."""
    if x.dim() == 4:
        x = model.encoder(x)  # (T, B, C, H, W)
    if x.dim() != 5 or x.shape[2] != model.in_channels:
        raise ShapeError(
            f"{name}: expected (B, {model.in_channels}, H, W) or "
            f"(T, B, {model.in_channels}, H, W), got {tuple(x.shape)}"
        )
    return x


def _conv_bn(c_in: int, c_out: int, k: int, stride: int, pool: bool = False) -> snn.TimeDistributed:
    layers = [
        nn.Conv2d(c_in, c_out, k, stride=1 if pool else stride, padding=k // 2, bias=False),
        nn.BatchNorm2d(c_out),
    ]
    if pool and stride != 1:
        layers.append(nn.MaxPool2d(3, stride=stride, padding=1))
    return snn.TimeDistributed(*layers)


class SpikeAfterAddBlock(nn.Module):
    """Basic block that spikes after the residual add: ``(T, B, C_in, H, W) -> (T, B, C_out, H', W')`` spikes."""

    def __init__(self, c_in: int, c_out: int, stride: int, spec: NeuronSpec) -> None:
        super().__init__()
        self.conv1 = _conv_bn(c_in, c_out, 3, stride)
        self.neuron1 = spec.build()
        self.conv2 = _conv_bn(c_out, c_out, 3, 1)
        self.shortcut = _conv_bn(c_in, c_out, 1, stride) if stride != 1 or c_in != c_out else nn.Identity()
        self.neuron2 = spec.build()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.neuron1(self.conv1(x)))
        return self.neuron2(out + self.shortcut(x))


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


BLOCKS: dict[str, type] = {"ms": MSBasicBlock, "spike_after_add": SpikeAfterAddBlock}


@register_model("spiking_resnet")
class SpikingResNet(nn.Module):
    """MS-ResNet for CIFAR-sized images with direct encoding over ``T`` steps.

    Args:
        arch: "resnet18", "resnet19" or "resnet34" (see module docstring); ``layers`` and
            ``widths`` override it.
        block: "ms" (membrane shortcut) or "spike_after_add" (tdBN/TET ResNet-19 ordering).
        stem_width: channels of the stem convolution (default ``widths[0]``; TET's code: 64).
        head_hidden: width of a spiking hidden layer before the classifier (TET's ResNet-19: 256).
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

    input_layout = STATIC_OR_TIME_MAJOR  # (B, C, H, W) encoded inside, or (T, B, C, H, W)
    static_rank = 4

    def __init__(
        self,
        arch: str = "resnet19",
        num_classes: int = 10,
        in_channels: int = 3,
        T: int = 4,
        layers: Optional[Sequence[int]] = None,
        widths: Optional[Sequence[int]] = None,
        block: str = "ms",
        stem_width: Optional[int] = None,
        head_hidden: Optional[int] = None,
        neuron: str = "lif",
        tau: float = 2.0,
        v_threshold: float = 1.0,
        v_reset: Optional[float] = 0.0,
        decay_input: bool = True,
        detach_reset: bool = True,
        surrogate: str = "atan",
        surrogate_alpha: float = 2.0,
        dt: float = 1e-3,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        if arch not in ARCHS:
            raise ConfigError(f"spiking_resnet: unknown arch '{arch}'; valid: {', '.join(ARCHS)}")
        layers = tuple(layers) if layers is not None else ARCHS[arch][0]
        widths = tuple(widths) if widths is not None else ARCHS[arch][1]
        check_stages("spiking_resnet", layers, widths)
        if block not in BLOCKS:
            raise ConfigError(f"spiking_resnet: unknown block '{block}'; valid: {', '.join(BLOCKS)}")
        spec = NeuronSpec(
            neuron, tau, v_threshold, v_reset, decay_input, detach_reset, surrogate, surrogate_alpha, backend
        )
        self.encoder = snn.DirectEncoder(int(T))
        self.num_classes, self.dt, self.in_channels = int(num_classes), float(dt), int(in_channels)
        self.block = block
        stem = int(stem_width) if stem_width is not None else widths[0]
        self.stem = _conv_bn(self.in_channels, stem, 3, 1)
        self.stem_neuron = spec.build() if block == "spike_after_add" else None
        kind = partial(BLOCKS[block], spec=spec)
        self.stages = nn.Sequential(*make_stages(layers, widths, stem, kind, kind))
        self.head_neuron = spec.build() if block == "ms" else None
        width = widths[-1]
        self.fc_hidden = self.hidden_neuron = None
        if head_hidden is not None:
            self.fc_hidden = snn.TimeDistributed(nn.Linear(width, int(head_hidden)))
            self.hidden_neuron, width = spec.build(), int(head_hidden)
        self.fc_out = snn.TimeDistributed(nn.Linear(width, self.num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x (B, C, H, W)`` or ``(T, B, C, H, W)`` -> per-step outputs ``(T, B, num_classes)``."""
        h = self.stem(encode_images(self, "spiking_resnet", x))
        if self.stem_neuron is not None:
            h = self.stem_neuron(h)
        h = self.stages(h)  # (T, B, C, H', W')
        if self.head_neuron is not None:
            h = self.head_neuron(h)
        h = h.mean(dim=(3, 4))  # (T, B, C)
        if self.fc_hidden is not None:
            h = self.hidden_neuron(self.fc_hidden(h))  # (T, B, head_hidden) spikes
        return self.fc_out(h)  # (T, B, classes)
