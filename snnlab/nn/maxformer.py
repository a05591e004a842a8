"""Layers of Max-Former (Fang et al., "Spiking Neural Networks Need High-Frequency Information",
NeurIPS 2025): patch embeddings with an extra max-pool, depth-wise-convolution token mixers,
spiking self-attention, the spiking MLP and the classification head.

Every module is multi-step and time-major, ``(T, B, C, H, W) -> (T, B, C', H', W')``, and
pre-activation ("membrane shortcut") ordered: a block spikes its input, convolves the spikes,
normalises and adds the result to the float (membrane) input. Batch norm sees ``T * B`` samples.
Neurons come from a factory ``neuron(**overrides) -> module`` so that a model chooses them once
(:func:`maxformer_lif` by default: LIF tau 2, threshold 1, hard reset to 0, detached reset,
sigmoid surrogate alpha 4; the attention neuron is ``neuron(v_threshold=0.5)``).

Equations (``S = LIF``, ``CB_k = BN o Conv_k``, ``P = MaxPool(3, 2, 1)``):

- Embed: ``CB_k(S(x))``; Max-Embed: ``P(CB_k(S(x)))``.
- Embed-Max: ``s = S(x)``; ``CB_3(S(P(CB_3(s)))) + P(CB_1(s))`` (the shortcut convolves spikes).
- DWC-k mixer: ``x + BN(DWConv_k(S(x)))``, depth-wise, with bias.
- SSA: ``q, k, v = S(BN(W x_s))`` per head, ``a = S_0.5(q (k^T v) * scale)``, ``x + BN(W_o a)``.
- MLP: ``h = CB_1(S(x))`` (+ x when the hidden width equals the input's), ``y = CB_1(S(h)) + h_res``.
- Head: ``Linear(S(mean_{H,W} x))`` per step.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Optional

import torch
from torch import nn

from snnlab.errors import ConfigError, ShapeError
from snnlab.nn.bn_neuron import batch_norm_neuron, fusable
from snnlab.nn.layers import TimeDistributed
from snnlab.nn.neuron import LIF
from snnlab.nn.spike_conv import BatchNorm2d

NeuronFactory = Callable[..., nn.Module]


def maxformer_lif(**overrides: Any) -> nn.Module:
    """The official code's neuron: LIF tau 2, threshold 1, hard reset 0, detached reset, sigmoid(4)."""
    kw: dict[str, Any] = dict(
        tau=2.0,
        v_threshold=1.0,
        v_reset=0.0,
        decay_input=True,
        detach_reset=True,
        surrogate={"name": "sigmoid", "alpha": 4.0},
    )
    return LIF(**{**kw, **overrides})


def conv_bn(
    c_in: int, c_out: int, k: int, stride: int = 1, bias: bool = False, groups: int = 1, pool: bool = False
) -> TimeDistributed:
    """``BN(Conv_k(x))`` per step, followed by ``MaxPool(3, 2, 1)`` when ``pool``."""
    layers: list[nn.Module] = [
        nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2, bias=bias, groups=groups),
        nn.BatchNorm2d(c_out),
    ]
    if pool:
        layers.append(nn.MaxPool2d(3, stride=2, padding=1))
    return TimeDistributed(*layers)


def conv_bn_spikes(cb: TimeDistributed, neuron: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``S(BN(Conv(x)))`` for a :func:`conv_bn` block ``cb`` (without pool) and its neuron.

    When the batch norm is snnlab's :class:`~snnlab.nn.spike_conv.BatchNorm2d` (``spike_kernels``),
    the convolution output is channels-last and :func:`snnlab.nn.bn_neuron.fusable` allows it, batch
    norm and neuron run fused on the pixel rows (:func:`snnlab.nn.batch_norm_neuron`); otherwise
    the modules run one after the other. Same values either way.
    """
    conv, bn = cb.module[0], cb.module[1]
    T, B = x.shape[:2]
    y = conv(x.reshape(T * B, *x.shape[2:]))  # (T B, C, H, W)
    C, H, W = y.shape[1:]
    fuse = isinstance(bn, BatchNorm2d) and not (cb._forward_hooks or cb._forward_pre_hooks)
    if fuse and y.is_contiguous(memory_format=torch.channels_last):
        rows = y.permute(0, 2, 3, 1).reshape(T, B * H * W, C)  # a view
        if fusable(rows, bn, neuron):
            s = batch_norm_neuron(rows, bn, neuron)  # (T, B H W, C)
            return s.view(T, B, H, W, C).permute(0, 1, 4, 2, 3)  # (T, B, C, H, W), channels-last
    return neuron(bn(y).reshape(T, B, C, H, W))


class Embed(nn.Module):
    """``[S] -> Conv_k -> BN [-> MaxPool]``; ``spike_input=False`` for a layer that sees real values.

    ``forward`` returns the output and the spikes it convolved (the shortcut of Embed-Max uses them).
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        k: int = 3,
        stride: int = 1,
        pool: bool = False,
        spike_input: bool = True,
        neuron: NeuronFactory = maxformer_lif,
    ) -> None:
        super().__init__()
        self.neuron = neuron() if spike_input else nn.Identity()
        self.conv = conv_bn(c_in, c_out, k, stride, pool=pool)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.neuron(x)  # (T, B, C_in, H, W)
        return self.conv(s), s


class EmbedOrig(nn.Module):
    """CIFAR stem at full resolution: ``h = CB_3(x)`` on the image, then ``CB_3(S(h)) + CB_1(S(h))``."""

    def __init__(self, in_channels: int, dim: int, neuron: NeuronFactory = maxformer_lif) -> None:
        super().__init__()
        self.proj = conv_bn(in_channels, dim // 2, 3)
        self.neuron = neuron()
        self.conv = conv_bn(dim // 2, dim, 3)
        self.shortcut = conv_bn(dim // 2, dim, 1)
        self.downsample = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = conv_bn_spikes(self.proj, self.neuron, x)  # (T, B, dim/2, H, W)
        return self.conv(s) + self.shortcut(s)


class EmbedOrigImageNet(nn.Module):
    """ImageNet stem, /4: ``h = CB_3/2(x)``; ``s = S(h)``; ``CB_3(S(CB_3/2(s))) + CB_1/2(s)``."""

    def __init__(self, in_channels: int, dim: int, neuron: NeuronFactory = maxformer_lif) -> None:
        super().__init__()
        self.proj = conv_bn(in_channels, dim // 2, 3, stride=2)
        self.embed1 = Embed(dim // 2, dim, 3, stride=2, neuron=neuron)
        self.embed2 = Embed(dim, dim, 3, neuron=neuron)
        self.shortcut = conv_bn(dim // 2, dim, 1, stride=2)
        self.downsample = 4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, s = self.embed1(self.proj(x))  # (T, B, dim, H/4, W/4), spikes (T, B, dim/2, H/2, W/2)
        return self.embed2(h)[0] + self.shortcut(s)


class EmbedMax(nn.Module):
    """Downsampling embedding with the extra max-pool: ``CB_3(S(P(CB_3(s)))) + P(CB_1(s))``, s = S(x)."""

    def __init__(self, c_in: int, dim: int, neuron: NeuronFactory = maxformer_lif) -> None:
        super().__init__()
        self.embed1 = Embed(c_in, dim, 3, pool=True, neuron=neuron)
        self.embed2 = Embed(dim, dim, 3, neuron=neuron)
        self.shortcut = conv_bn(c_in, dim, 1, pool=True)
        self.downsample = 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, s = self.embed1(x)  # (T, B, dim, H/2, W/2), spikes (T, B, c_in, H, W)
        return self.embed2(h)[0] + self.shortcut(s)


class EmbedMaxPlus(nn.Module):
    """Event-camera stem, /8: ``CB_3`` to dim/8, three Max-Embeds (dim/4, dim/2, dim), plus a 1x1
    stride-4 convolution of the spikes entering the second Max-Embed."""

    def __init__(self, in_channels: int, dim: int, neuron: NeuronFactory = maxformer_lif) -> None:
        super().__init__()
        self.proj = conv_bn(in_channels, dim // 8, 3)
        self.embed1 = Embed(dim // 8, dim // 4, 3, pool=True, neuron=neuron)
        self.embed2 = Embed(dim // 4, dim // 2, 3, pool=True, neuron=neuron)
        self.embed3 = Embed(dim // 2, dim, 3, pool=True, neuron=neuron)
        self.shortcut = conv_bn(dim // 4, dim, 1, stride=4)
        self.downsample = 8

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed1(self.proj(x))[0]  # (T, B, dim/4, H/2, W/2)
        h, s = self.embed2(h)  # (T, B, dim/2, H/4, W/4), spikes (T, B, dim/4, H/2, W/2)
        return self.embed3(h)[0] + self.shortcut(s)  # (T, B, dim, H/8, W/8)


class IdentityMixer(nn.Module):
    """No token mixing (the first CIFAR stage): the block is its MLP alone."""

    def __init__(self, dim: int, neuron: NeuronFactory = maxformer_lif) -> None:
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class DWCMixer(nn.Module):
    """Depth-wise convolution token mixer: ``x + BN(DWConv_k(S(x)))`` (k = 3, 5, 7)."""

    def __init__(self, dim: int, kernel_size: int = 3, neuron: NeuronFactory = maxformer_lif) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ConfigError(f"DWCMixer: kernel_size must be odd and >= 1, got {kernel_size}")
        self.neuron = neuron()
        self.conv = conv_bn(dim, dim, kernel_size, bias=True, groups=dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(self.neuron(x))


class MatMul(nn.Module):
    """``a @ b`` as a module flagged ``is_attention_matmul``, so activity hooks count its operations."""

    is_attention_matmul = True

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.matmul(a, b)  # (..., N, K) @ (..., K, M) -> (..., N, M)


class SSA(nn.Module):
    """Spikformer's spiking self-attention without softmax, over the H*W tokens.

    ``q, k, v = S(BN(Conv1x1(S(x))))`` (one fused 3*dim convolution, no bias), per head
    ``a = S_th(q (k^T v) * scale)`` with the attention neuron's threshold ``attn_threshold``,
    then ``x + BN(Conv1x1(a))``.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        scale: float = 0.125,
        attn_threshold: float = 0.5,
        neuron: NeuronFactory = maxformer_lif,
    ) -> None:
        super().__init__()
        if num_heads < 1 or dim % num_heads:
            raise ConfigError(
                f"SSA: num_heads {num_heads} must divide dim {dim}; valid head counts: "
                f"{[h for h in range(1, dim + 1) if dim % h == 0]}"
            )
        self.dim, self.num_heads, self.scale = dim, num_heads, float(scale)
        self.neuron = neuron()
        self.qkv = conv_bn(dim, 3 * dim, 1)
        self.qkv_neuron = neuron()
        self.attn_neuron = neuron(v_threshold=attn_threshold)
        self.proj = conv_bn(dim, dim, 1, bias=True)
        self.kv, self.qkv_product = MatMul(), MatMul()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T, B, C, H, W = x.shape
        qkv = conv_bn_spikes(self.qkv, self.qkv_neuron, self.neuron(x))  # (T, B, 3C, H, W) spikes
        # tokens-major views (no copy when the spikes are channels-last): (T, B, 3, heads, N, d)
        qkv = qkv.permute(0, 1, 3, 4, 2).reshape(T, B, H * W, 3, self.num_heads, C // self.num_heads)
        q, k, v = qkv.permute(0, 1, 3, 4, 2, 5).unbind(2)  # each (T, B, heads, N, d)
        a = self.qkv_product(q, self.kv(k.transpose(-1, -2), v)) * self.scale  # (T, B, heads, N, d)
        a = a.transpose(2, 3).reshape(T, B, H, W, C).permute(0, 1, 4, 2, 3)  # (T, B, C, H, W), channels-last
        if x.stride(2) != 1 and H * W > 1:  # keep a contiguous (T, B, C, H, W) input's layout
            a = a.contiguous()
        return x + self.proj(self.attn_neuron(a))


class SpikingMLP(nn.Module):
    """``h = CB_1(S(x))``; ``y = CB_1(S(h)) + x``; with hidden width = dim (ratio 1) the official
    code also adds ``x`` to ``h`` and then ``h`` (not ``x``) is the final residual."""

    def __init__(self, dim: int, mlp_ratio: float = 4.0, neuron: NeuronFactory = maxformer_lif) -> None:
        super().__init__()
        hidden = int(dim * mlp_ratio)
        if hidden < 1:
            raise ConfigError(f"SpikingMLP: mlp_ratio {mlp_ratio} gives no hidden unit for dim {dim}")
        self.inner_residual = hidden == dim
        self.neuron1, self.fc1 = neuron(), conv_bn(dim, hidden, 1, bias=True)
        self.neuron2, self.fc2 = neuron(), conv_bn(hidden, dim, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.inner_residual:  # h feeds only the second neuron: BN -> LIF can be fused
            return x + self.fc2(conv_bn_spikes(self.fc1, self.neuron2, self.neuron1(x)))
        h = self.fc1(self.neuron1(x)) + x  # (T, B, hidden, H, W)
        return h + self.fc2(self.neuron2(h))


class MaxFormerBlock(nn.Module):
    """Token mixer then spiking MLP, each with its membrane shortcut inside."""

    def __init__(self, mixer: nn.Module, mlp: nn.Module) -> None:
        super().__init__()
        self.mixer, self.mlp = mixer, mlp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.mixer(x))


def make_mixer(kind: str, dim: int, num_heads: int, neuron: NeuronFactory, attn_threshold: float = 0.5) -> nn.Module:
    """A token mixer by name: "identity", "dwc3" / "dwc5" / "dwc7" (any odd k) or "ssa"."""
    if kind == "identity":
        return IdentityMixer(dim, neuron)
    if kind == "ssa":
        return SSA(dim, num_heads, attn_threshold=attn_threshold, neuron=neuron)
    if kind.startswith("dwc") and kind[3:].isdigit():
        return DWCMixer(dim, int(kind[3:]), neuron)
    raise ConfigError(f"unknown token mixer '{kind}'; valid: identity, dwc3, dwc5, dwc7 (dwcK, K odd), ssa")


STEMS: dict[str, type[nn.Module]] = {"orig": EmbedOrig, "orig_imagenet": EmbedOrigImageNet, "max_plus": EmbedMaxPlus}


class SpikingHead(nn.Module):
    """``Linear(S(mean_{H,W} x))`` per step: ``(T, B, C, H, W) -> (T, B, classes)``."""

    def __init__(self, dim: int, num_classes: int, neuron: NeuronFactory = maxformer_lif) -> None:
        super().__init__()
        self.neuron = neuron()
        self.fc = TimeDistributed(nn.Linear(dim, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5:
            raise ShapeError(f"SpikingHead: expected (T, B, C, H, W), got {tuple(x.shape)}")
        return self.fc(self.neuron(x.mean(dim=(3, 4))))


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """``x (T, B, C, H, W)`` or ``(B, C, H, W)`` with the channels innermost in memory (same values).

    Convolutions, batch norm and max pooling on CPU (oneDNN) and GPU (cuDNN) run faster on this
    layout than on ``(.., C, H, W)`` order, and the neurons and residual additions keep it.
    """
    if x.dim() == 4:
        return x.contiguous(memory_format=torch.channels_last)
    return x.permute(0, 1, 3, 4, 2).contiguous().permute(0, 1, 4, 2, 3)


def neuron_factory(base: Optional[NeuronFactory] = None, **defaults: Any) -> NeuronFactory:
    """``base`` (default :func:`maxformer_lif`) with some keyword arguments fixed."""
    return functools.partial(base or maxformer_lif, **defaults)


__all__ = [
    "DWCMixer",
    "conv_bn_spikes",
    "Embed",
    "EmbedMax",
    "EmbedMaxPlus",
    "EmbedOrig",
    "EmbedOrigImageNet",
    "IdentityMixer",
    "MatMul",
    "MaxFormerBlock",
    "SSA",
    "STEMS",
    "SpikingHead",
    "SpikingMLP",
    "channels_last",
    "conv_bn",
    "make_mixer",
    "maxformer_lif",
    "neuron_factory",
]
