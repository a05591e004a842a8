"""Max-Former (Fang et al., NeurIPS 2025): spiking vision transformers that keep high-frequency
information with max-pooling patch embeddings and depth-wise-convolution token mixers.

``x (B, C, H, W)`` is repeated over ``T`` steps (direct coding; the stem's first convolution sees
real values), or a time-major ``(T, B, C, H, W)`` input (event frames) is used as given. A stem
embeds the image at ``dims[0]`` channels, every later stage starts with an Embed-Max (/2), and each
stage stacks ``depths[i]`` blocks of token mixer ``mixers[i]`` + spiking MLP; the head is
``Linear(LIF(mean over tokens))`` per step, output ``(T, B, num_classes)``. Layers and equations:
:mod:`snnlab.nn.maxformer`.

Registered configurations (parameter counts equal those of the official code, bic-L/MaxFormer):

| name | stem | stages (dims, mixers, depths) | params |
|---|---|---|---|
| ``maxformer_cifar`` | orig (/1) | 96/192/384; identity, dwc3, ssa x 8 heads; 1/1/2 | 6,568,282 (10 classes) |
| ``maxformer_10_384`` | orig_imagenet (/4) | 96/192/384; dwc7, dwc5, ssa x dim/64; 1/2/7 | 16,237,240 |
| ``maxformer_10_512`` | orig_imagenet (/4) | 128/256/512 | 28,653,480 |
| ``maxformer_10_768`` | orig_imagenet (/4) | 192/384/768 | 63,992,200 |
| ``maxformer_dvs`` | max_plus (/8) | 128/256; dwc3, ssa x 16; 1/1; mlp ratio 1; T 16 | 1,455,626 (10 classes) |
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, Optional

import torch
from torch import nn

from snnlab import nn as snn
from snnlab.errors import ConfigError, ShapeError
from snnlab.models.common import NeuronSpec
from snnlab.models.layout import STATIC_OR_TIME_MAJOR
from snnlab.models.registry import register_model
from snnlab.nn.maxformer import STEMS, EmbedMax, MaxFormerBlock, SpikingHead, SpikingMLP, channels_last, make_mixer
from snnlab.nn.spike_conv import replace_layers, spike_copy


def spec_factory(spec: NeuronSpec):
    """A neuron factory ``(**overrides) -> module`` over a :class:`NeuronSpec`."""

    def build(**overrides: Any) -> nn.Module:
        return NeuronSpec(**{**spec.__dict__, **overrides}).build()

    return build


def check_sizes(
    dims: Sequence[int], depths: Sequence[int], mixers: Sequence[str], heads: Sequence[int], stem: str
) -> None:
    """Raise ConfigError unless the per-stage lists agree and hold valid values."""
    if stem not in STEMS:
        raise ConfigError(f"maxformer: unknown stem '{stem}'; valid: {', '.join(STEMS)}")
    lengths = {len(dims), len(depths), len(mixers), len(heads)}
    if len(lengths) != 1 or not dims:
        raise ConfigError(
            f"maxformer: dims {list(dims)}, depths {list(depths)}, mixers {list(mixers)} and heads "
            f"{list(heads)} need one entry per stage"
        )
    if min(depths) < 0 or min(dims) < 1:
        raise ConfigError(f"maxformer: dims must be >= 1 and depths >= 0, got {list(dims)} / {list(depths)}")
    factor = 8 if stem == "max_plus" else 2
    if dims[0] % factor:
        raise ConfigError(f"maxformer: dims[0] = {dims[0]} must be a multiple of {factor} for stem '{stem}'")


def check_image(img_size: int, downsample: int, stages: int) -> None:
    """Raise ConfigError unless every stride-2 stage can halve the image exactly."""
    factor = downsample * 2 ** (stages - 1)
    if img_size < factor or img_size % factor:
        raise ConfigError(
            f"maxformer: img_size {img_size} cannot be halved by the stem (/{downsample}) and "
            f"{stages - 1} Embed-Max stage(s); valid: a positive multiple of {factor}"
        )


@register_model("maxformer")
class MaxFormer(nn.Module):
    """Max-Former with every size a keyword (see the module docstring).

    Args:
        num_classes: output units.
        in_channels: input channels (3 for images, 2 for event polarities).
        img_size: input side length in pixels (checked against the stage strides).
        T: time steps of the direct encoding of a static image.
        dims: channels per stage.
        depths: blocks per stage.
        mixers: token mixer per stage: "identity", "dwc3"/"dwc5"/"dwc7", "ssa".
        heads: attention heads per stage (used by "ssa" stages; must divide that stage's dim).
        mlp_ratio: hidden width of the spiking MLP / dim.
        stem: "orig" (CIFAR, /1), "orig_imagenet" (/4) or "max_plus" (events, /8).
        tau, v_threshold, v_reset, detach_reset, surrogate, surrogate_alpha: neuron options
            (defaults: the official code's); the attention neuron has threshold ``attn_threshold``.
        dt: seconds per step (metadata).
        backend: neuron kernel backend.
        channels_last: run on channels-innermost activations (:func:`snnlab.nn.maxformer.channels_last`;
            same values, faster convolutions, batch norm and pooling).
        spike_kernels: on channels-last activations, run the 1x1 convolutions (all of which see
            spikes) as ``linear.spikes`` over the pixels (forward and weight gradient from the
            nonzeros) and batch norm as ``batch_norm.rows`` (:mod:`snnlab.nn.spike_conv`; same
            parameters and values); False keeps torch's ``Conv2d`` and ``BatchNorm2d``.
    """

    input_layout = STATIC_OR_TIME_MAJOR  # (B, C, H, W) encoded inside, or (T, B, C, H, W)
    static_rank = 4

    nir_unsupported = (
        "max pooling (Embed-Max), spiking self-attention products and membrane-shortcut branches "
        "have no NIR export in snnlab, so no chip mapping"
    )

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 3,
        img_size: int = 32,
        T: int = 4,
        dims: Sequence[int] = (96, 192, 384),
        depths: Sequence[int] = (1, 1, 2),
        mixers: Sequence[str] = ("identity", "dwc3", "ssa"),
        heads: Sequence[int] = (8, 8, 8),
        mlp_ratio: float = 4.0,
        stem: str = "orig",
        tau: float = 2.0,
        v_threshold: float = 1.0,
        v_reset: Optional[float] = 0.0,
        detach_reset: bool = True,
        surrogate: str = "sigmoid",
        surrogate_alpha: float = 4.0,
        attn_threshold: float = 0.5,
        dt: float = 1e-3,
        backend: str = "auto",
        channels_last: bool = True,
        spike_kernels: bool = True,
    ) -> None:
        super().__init__()
        self.channels_last = bool(channels_last)
        dims, depths, mixers, heads = (tuple(v) for v in (dims, depths, mixers, heads))
        check_sizes(dims, depths, mixers, heads, stem)
        spec = NeuronSpec("lif", tau, v_threshold, v_reset, True, detach_reset, surrogate, surrogate_alpha, backend)
        neuron = spec_factory(spec)
        self.num_classes, self.in_channels, self.img_size = int(num_classes), int(in_channels), int(img_size)
        self.dt, self.attn_threshold = float(dt), float(attn_threshold)
        self.input_shape = (self.in_channels, self.img_size, self.img_size)  # per step and sample
        self.encoder = snn.DirectEncoder(int(T))
        self.stem = STEMS[stem](self.in_channels, dims[0], neuron)
        check_image(self.img_size, self.stem.downsample, len(dims))
        self.stages = nn.ModuleList(
            self._stage(i, dims, depths, mixers, heads, mlp_ratio, neuron) for i in range(len(dims))
        )
        self.head = SpikingHead(dims[-1], self.num_classes, neuron)
        self.apply(_init_weights)
        if spike_kernels:
            replace_layers(self, functools.partial(spike_copy, backend=backend))

    def _stage(self, i: int, dims, depths, mixers, heads, mlp_ratio: float, neuron) -> nn.Sequential:
        layers: list[nn.Module] = [EmbedMax(dims[i - 1], dims[i], neuron)] if i > 0 else []
        for _ in range(depths[i]):
            layers.append(
                MaxFormerBlock(
                    make_mixer(mixers[i], dims[i], heads[i], neuron, self.attn_threshold),
                    SpikingMLP(dims[i], mlp_ratio, neuron),
                )
            )
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x (B, C, H, W)`` or ``(T, B, C, H, W)`` -> per-step outputs ``(T, B, num_classes)``."""
        if x.dim() == 4:
            x = self.encoder(x)  # (T, B, C, H, W)
        if x.dim() != 5 or x.shape[2] != self.in_channels or tuple(x.shape[3:]) != (self.img_size,) * 2:
            raise ShapeError(
                f"maxformer: expected (B, {self.in_channels}, {self.img_size}, {self.img_size}) or "
                f"(T, B, {self.in_channels}, {self.img_size}, {self.img_size}), got {tuple(x.shape)}"
            )
        h = self.stem(channels_last(x) if self.channels_last else x)
        for stage in self.stages:
            h = stage(h)
        return self.head(h)


def _init_weights(m: nn.Module) -> None:
    """The official code's initialisation: truncated normal (std 0.02) for linear weights, zero bias."""
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)


@register_model("maxformer_cifar")
def maxformer_cifar(
    num_classes: int = 10,
    in_channels: int = 3,
    img_size: int = 32,
    T: int = 4,
    dims: Sequence[int] = (96, 192, 384),
    depths: Sequence[int] = (1, 1, 2),
    mixers: Sequence[str] = ("identity", "dwc3", "ssa"),
    heads: Sequence[int] = (8, 8, 8),
    mlp_ratio: float = 4.0,
    backend: str = "auto",
    spike_kernels: bool = True,
) -> MaxFormer:
    """CIFAR Max-Former (dim 384): 6,568,282 parameters with 10 classes, 6,602,932 with 100.

    ``spike_kernels=False`` keeps torch's 1x1 convolutions and batch norm (see :class:`MaxFormer`).
    """
    return MaxFormer(
        num_classes, in_channels, img_size, T, dims, depths, mixers, heads, mlp_ratio, "orig", backend=backend,
        spike_kernels=spike_kernels,
    )  # fmt: skip


def _imagenet(
    dim: int,
    num_classes: int,
    in_channels: int,
    img_size: int,
    T: int,
    depths: Sequence[int],
    mlp_ratio: float,
    backend: str,
    spike_kernels: bool = True,
) -> MaxFormer:
    dims = (dim // 4, dim // 2, dim)
    return MaxFormer(
        num_classes,
        in_channels,
        img_size,
        T,
        dims,
        depths,
        ("dwc7", "dwc5", "ssa"),
        (1, 1, max(1, dim // 64)),
        mlp_ratio,
        "orig_imagenet",
        backend=backend,
        spike_kernels=spike_kernels,
    )


@register_model("maxformer_10_384")
def maxformer_10_384(
    num_classes: int = 1000,
    in_channels: int = 3,
    img_size: int = 224,
    T: int = 4,
    dim: int = 384,
    depths: Sequence[int] = (1, 2, 7),
    mlp_ratio: float = 4.0,
    backend: str = "auto",
    spike_kernels: bool = True,
    **neuron: Any,
) -> MaxFormer:
    """ImageNet Max-Former-10-384 (16,237,240 parameters); heads = dim / 64."""
    return _imagenet(dim, num_classes, in_channels, img_size, T, depths, mlp_ratio, backend, spike_kernels)


@register_model("maxformer_10_512")
def maxformer_10_512(
    num_classes: int = 1000,
    in_channels: int = 3,
    img_size: int = 224,
    T: int = 4,
    dim: int = 512,
    depths: Sequence[int] = (1, 2, 7),
    mlp_ratio: float = 4.0,
    backend: str = "auto",
    spike_kernels: bool = True,
    **neuron: Any,
) -> MaxFormer:
    """ImageNet Max-Former-10-512 (28,653,480 parameters)."""
    return _imagenet(dim, num_classes, in_channels, img_size, T, depths, mlp_ratio, backend, spike_kernels)


@register_model("maxformer_10_768")
def maxformer_10_768(
    num_classes: int = 1000,
    in_channels: int = 3,
    img_size: int = 224,
    T: int = 4,
    dim: int = 768,
    depths: Sequence[int] = (1, 2, 7),
    mlp_ratio: float = 4.0,
    backend: str = "auto",
    spike_kernels: bool = True,
    **neuron: Any,
) -> MaxFormer:
    """ImageNet Max-Former-10-768 (63,992,200 parameters)."""
    return _imagenet(dim, num_classes, in_channels, img_size, T, depths, mlp_ratio, backend, spike_kernels)


@register_model("maxformer_dvs")
def maxformer_dvs(
    num_classes: int = 10,
    in_channels: int = 2,
    img_size: int = 128,
    T: int = 16,
    dims: Sequence[int] = (128, 256),
    depths: Sequence[int] = (1, 1),
    mixers: Sequence[str] = ("dwc3", "ssa"),
    heads: Sequence[int] = (16, 16),
    mlp_ratio: float = 1.0,
    backend: str = "auto",
    spike_kernels: bool = True,
) -> MaxFormer:
    """Event-camera Max-Former (dim 256, mlp ratio 1, 16 heads): 1,455,626 parameters with 10 classes."""
    return MaxFormer(
        num_classes, in_channels, img_size, T, dims, depths, mixers, heads, mlp_ratio, "max_plus", backend=backend,
        spike_kernels=spike_kernels,
    )  # fmt: skip
