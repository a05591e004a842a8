"""Max-ResNet (Fang et al., NeurIPS 2025): an MS-ResNet whose downsampling blocks max-pool.

``x (B, C, H, W)`` is repeated over ``T`` steps; the stem ``BN(Conv3x3(x))`` (no neuron: it sees
the real image) has ``stem_width`` channels. Stage ``i`` holds ``layers[i]`` membrane-shortcut
basic blocks (:class:`snnlab.models.resnet.MSBasicBlock`) of ``widths[i]`` channels; the first
block of every later stage halves the resolution with ``MaxPool(3, 2, 1)`` after its first
convolution (the shortcut: ``BN(Conv1x1 stride 2)`` of the membrane input). Head:
``Linear(mean_{H,W} LIF(x))`` per step, output ``(T, B, num_classes)``.

``max_resnet18``: stem 64, widths 128/256/512, layers [3, 3, 2]: 12,502,090 parameters with 10
classes, as the official code (bic-L/MaxFormer cifar10-100/max_resnet.py) counts them.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Optional

import torch
from torch import nn

from snnlab import nn as snn
from snnlab.errors import ConfigError
from snnlab.models.common import NeuronSpec
from snnlab.models.layout import STATIC_OR_TIME_MAJOR
from snnlab.models.registry import register_model
from snnlab.models.resnet import MSBasicBlock, _conv_bn, check_stages, encode_images, make_stages


@register_model("max_resnet18")
class MaxResNet(nn.Module):
    """Max-ResNet; every size a keyword (``layers``, ``widths``, ``stem_width``, ``T``, ...).

    Args:
        num_classes: output units.
        in_channels: image channels.
        img_size: input side length (must survive ``len(widths) - 1`` halvings).
        T: time steps of the direct encoding.
        layers: blocks per stage.
        widths: channels per stage.
        stem_width: channels of the stem convolution.
        tau, v_threshold, v_reset, detach_reset, surrogate, surrogate_alpha: neuron options
            (defaults: the official code's LIF, tau 2, sigmoid surrogate alpha 4).
        dt: seconds per step (metadata).
        backend: neuron kernel backend.
    """

    input_layout = STATIC_OR_TIME_MAJOR  # (B, C, H, W) encoded inside, or (T, B, C, H, W)
    static_rank = 4

    nir_unsupported = "max pooling and membrane-shortcut branches have no NIR export in snnlab, so no chip mapping"

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 3,
        img_size: int = 32,
        T: int = 4,
        layers: Sequence[int] = (3, 3, 2),
        widths: Sequence[int] = (128, 256, 512),
        stem_width: int = 64,
        tau: float = 2.0,
        v_threshold: float = 1.0,
        v_reset: Optional[float] = 0.0,
        detach_reset: bool = True,
        surrogate: str = "sigmoid",
        surrogate_alpha: float = 4.0,
        dt: float = 1e-3,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        layers, widths = tuple(layers), tuple(widths)
        check_stages("max_resnet18", layers, widths)
        if stem_width < 1:
            raise ConfigError(f"max_resnet18: stem_width must be >= 1, got {stem_width}")
        factor = 2 ** (len(widths) - 1)
        if img_size < factor or img_size % factor:
            raise ConfigError(
                f"max_resnet18: img_size {img_size} cannot be halved {len(widths) - 1} time(s); "
                f"valid: a positive multiple of {factor}"
            )
        spec = NeuronSpec("lif", tau, v_threshold, v_reset, True, detach_reset, surrogate, surrogate_alpha, backend)
        self.num_classes, self.in_channels, self.img_size, self.dt = int(num_classes), int(in_channels), img_size, dt
        self.input_shape = (self.in_channels, int(img_size), int(img_size))  # per step and sample
        self.encoder = snn.DirectEncoder(int(T))
        self.stem = _conv_bn(self.in_channels, stem_width, 3, 1)
        self.stages = nn.Sequential(
            *make_stages(
                layers,
                widths,
                stem_width,
                block=partial(MSBasicBlock, spec=spec),
                first=partial(MSBasicBlock, spec=spec, pool=True),  # max-pool downsampling
            )
        )
        self.head_neuron = spec.build()
        self.fc_out = snn.TimeDistributed(nn.Linear(widths[-1], self.num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x (B, C, H, W)`` or ``(T, B, C, H, W)`` -> per-step outputs ``(T, B, num_classes)``."""
        h = self.stages(self.stem(encode_images(self, "max_resnet18", x)))  # (T, B, C, H', W')
        h = self.head_neuron(h).mean(dim=(3, 4))  # (T, B, C)
        return self.fc_out(h)  # (T, B, classes)
