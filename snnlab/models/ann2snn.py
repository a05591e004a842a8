"""Quantised-activation ANNs and their conversion to IF spiking networks (QCFS-style).

The base network path of Dynamic Confidence (Li, Jones and Furber, ICCV 2023). The ANN's
activations are quantised to ``b`` bits by a learnable-scale quantiser (LSQ-style)::

    q(x) = clip(round(x / s), 0, L) * s,        L = 2^b - 1,  s learned

(straight-through gradient for ``round``; the gradient of ``s`` follows LSQ with its
``1 / sqrt(numel * L)`` scaling). :func:`convert_to_snn` replaces every quantiser by an IF
neuron with subtractive reset, threshold ``theta = s * L``, membrane started at ``theta / 2``
and spike value ``theta`` (weighted spikes); the last layer does not spike: its per-step output
is accumulated by the reader (Dynamic Confidence). ``snnlab.nn.IF`` starts at ``v = 0``, so the
half-threshold start is injected as a bias current ``theta / 2`` at the first step, which is
the same for an IF neuron (no leak).

Rate-coding equivalence: for a constant input, after ``T`` steps an IF layer's mean output is
``(theta / T) * round(T x / theta)`` clipped to ``[0, theta]``: exactly the quantised ANN's
activation at ``T = L``, and a finer quantisation (towards the clipped ReLU) as ``T`` grows.
Deeper layers see non-constant spike input, so the match there is approximate.

Both the ANN and the SNN take time-major input ``(T, B, ...)`` or a static batch
``(B, ...)`` (repeated ``timesteps`` times) and return per-step outputs ``(T, B, C)``; the ANN
runs once on the time-averaged input and repeats its logits over the steps.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Optional

import torch
from torch import nn

from snnlab import nn as snn
from snnlab.errors import ConfigError, ShapeError
from snnlab.models.layout import STATIC_OR_TIME_MAJOR
from snnlab.models.registry import register_model


class LSQQuant(nn.Module):
    """Quantised clipped ReLU ``clip(round(x / s), 0, 2^b - 1) * s`` with a learnable scale ``s``."""

    def __init__(self, bits: int = 2, init_scale: float = 1.0) -> None:
        super().__init__()
        if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 16:
            raise ConfigError(f"LSQQuant: bits must be an integer in [1, 16], got {bits!r}")
        if not init_scale > 0:
            raise ConfigError(f"LSQQuant: init_scale must be > 0, got {init_scale!r}")
        self.bits, self.levels = bits, 2**bits - 1
        self.scale = nn.Parameter(torch.tensor(float(init_scale)))

    @property
    def threshold(self) -> float:
        """The converted IF neuron's threshold ``theta = s * (2^b - 1)``."""
        return float(self.scale.detach().abs()) * self.levels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = 1.0 / math.sqrt(max(x[0].numel(), 1) * self.levels)
        s = self.scale.abs() * g + (self.scale.abs() * (1.0 - g)).detach()  # LSQ gradient scaling
        v = x / s
        q = torch.clamp(v + (v.round() - v).detach(), 0.0, float(self.levels))  # straight-through round
        return q * s

    def extra_repr(self) -> str:
        return f"bits={self.bits}, scale={float(self.scale.detach()):.4g}"


class OutputQuant(LSQQuant):
    """Quantiser of the classifier's output, used in ANN training only.

    The official Dynamic Confidence code quantises the fc output of the ANN too (``activation2``,
    scale init 0.5); its SNN accumulates the raw fc output, so conversion drops this quantiser.
    """


class SpikingQuant(nn.Module):
    """The IF neuron that replaces an :class:`LSQQuant`: soft reset, ``v0 = theta/2``, spikes worth ``theta``.

    Works on time-folded tensors ``(T * B, ...)``; the owning :class:`ConvertedSNN` sets ``steps``.
    """

    def __init__(self, threshold: float) -> None:
        super().__init__()
        if not threshold > 0:
            raise ConfigError(f"SpikingQuant: threshold must be > 0, got {threshold!r}")
        self.theta = float(threshold)
        self.neuron = snn.IF(v_threshold=self.theta, v_reset=None)
        self.steps = 1

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        seq = z.reshape(self.steps, -1, *z.shape[1:])  # (T, B, ...)
        first = self.neuron.step_mode == "m" or self.neuron.state is None
        if first:  # membrane starts at theta / 2: a bias current at the first step
            seq = torch.cat([seq[:1] + 0.5 * self.theta, seq[1:]])
        return (self.neuron(seq) * self.theta).reshape(z.shape)

    def extra_repr(self) -> str:
        return f"theta={self.theta:.4g}"


def _as_time_major(x: torch.Tensor, step_rank: int, timesteps: int, owner: str) -> torch.Tensor:
    if x.dim() == step_rank + 1:
        return x.unsqueeze(0).expand(timesteps, *x.shape)  # static batch, direct encoding
    if x.dim() != step_rank + 2:
        raise ShapeError(
            f"{owner}: expected (T, B, ...) with {step_rank} dims per sample or a static batch, got {tuple(x.shape)}"
        )
    return x


class QuantizedANN(nn.Module):
    """An ANN ``body`` with :class:`LSQQuant` activations, in the time-major model contract."""

    input_layout = STATIC_OR_TIME_MAJOR  # (B, ...) repeated T times inside, or (T, B, ...)

    @property
    def static_rank(self) -> int:
        """Dims of a static batch: ``(B, ...)`` with ``step_rank`` dims per sample."""
        return self.step_rank + 1

    def __init__(self, body: nn.Module, step_rank: int, timesteps: int, num_classes: int) -> None:
        super().__init__()
        if isinstance(timesteps, bool) or not isinstance(timesteps, int) or timesteps < 1:
            raise ConfigError(f"timesteps must be an integer >= 1, got {timesteps!r}")
        self.body, self.step_rank, self.timesteps, self.num_classes = body, step_rank, timesteps, num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(T, B, ...)`` or ``(B, ...)`` -> logits repeated per step ``(T, B, C)``."""
        seq = _as_time_major(x, self.step_rank, self.timesteps, type(self).__name__)
        logits = self.body(seq.mean(0))  # (B, C)
        return logits.unsqueeze(0).expand(seq.shape[0], *logits.shape)


class ConvertedSNN(nn.Module):
    """The spiking twin of a :class:`QuantizedANN`; stateless layers run on ``(T * B, ...)``."""

    input_layout = STATIC_OR_TIME_MAJOR  # (B, ...) repeated T times inside, or (T, B, ...)

    @property
    def static_rank(self) -> int:
        """Dims of a static batch: ``(B, ...)`` with ``step_rank`` dims per sample."""
        return self.step_rank + 1

    def __init__(self, body: nn.Module, step_rank: int, timesteps: int) -> None:
        super().__init__()
        self.body, self.step_rank, self.timesteps = body, step_rank, timesteps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(T, B, ...)`` or ``(B, ...)`` -> per-step outputs of the last layer ``(T, B, C)``."""
        seq = _as_time_major(x, self.step_rank, self.timesteps, type(self).__name__)
        T, B = seq.shape[:2]
        for m in self.body.modules():
            if isinstance(m, SpikingQuant):
                m.steps = T
        out = self.body(seq.reshape(T * B, *seq.shape[2:]))
        return out.reshape(T, B, *out.shape[1:])


def convert_to_snn(ann: QuantizedANN, timesteps: Optional[int] = None) -> ConvertedSNN:
    """The IF network equivalent to ``ann`` (a copy; the ANN is untouched), in eval mode.

    Args:
        ann: a trained quantised ANN.
        timesteps: steps for static input (T_max); default the ANN's.
    """
    if not isinstance(ann, QuantizedANN):
        raise ConfigError(f"convert_to_snn: expected a QuantizedANN (snnlab.models.ann2snn), got {type(ann).__name__}")
    body = copy.deepcopy(ann.body).eval()
    _replace_quantisers(body)
    return ConvertedSNN(body, ann.step_rank, timesteps or ann.timesteps).eval()


def _replace_quantisers(module: nn.Module) -> None:
    for name, child in module.named_children():
        if isinstance(child, OutputQuant):  # the SNN accumulates the raw last-layer output instead
            setattr(module, name, nn.Identity())
        elif isinstance(child, LSQQuant):
            setattr(module, name, SpikingQuant(child.threshold))
        else:
            _replace_quantisers(child)


@register_model("qann_mlp")
def qann_mlp(
    in_features: int = 512,
    num_classes: int = 10,
    hidden: Sequence[int] = (256,),
    bits: int = 2,
    init_scale: float = 0.5,
    timesteps: int = 16,
) -> QuantizedANN:
    """Quantised MLP: (Linear -> BatchNorm -> LSQQuant) per hidden width, then Linear.

    Args:
        in_features: inputs per step (flattened).
        num_classes: output classes.
        hidden: hidden widths.
        bits: activation bits b.
        init_scale: initial quantiser scale s.
        timesteps: steps of the converted SNN for static input.
    """
    layers: list[nn.Module] = [nn.Flatten(1)]
    width = int(in_features)
    for h in hidden:
        layers += [nn.Linear(width, int(h)), nn.BatchNorm1d(int(h)), LSQQuant(bits, init_scale)]
        width = int(h)
    layers.append(nn.Linear(width, int(num_classes)))
    return QuantizedANN(nn.Sequential(*layers), 1, timesteps, int(num_classes))


@register_model("qann_cnn")
def qann_cnn(
    in_channels: int = 2,
    num_classes: int = 10,
    channels: Sequence[int] = (16, 32),
    bits: int = 2,
    init_scale: float = 0.5,
    timesteps: int = 16,
) -> QuantizedANN:
    """Small quantised CNN: (Conv3x3 -> BatchNorm -> LSQQuant -> AvgPool2) per stage, global pool, Linear.

    Args:
        in_channels: input channels (2 for event frames).
        num_classes: output classes.
        channels: channels per stage.
        bits: activation bits b.
        init_scale: initial quantiser scale s.
        timesteps: steps of the converted SNN for static input.
    """
    layers: list[nn.Module] = []
    c_in = int(in_channels)
    for c in channels:
        layers += [
            nn.Conv2d(c_in, int(c), 3, padding=1, bias=False),
            nn.BatchNorm2d(int(c)),
            LSQQuant(bits, init_scale),
            nn.AvgPool2d(2),
        ]
        c_in = int(c)
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(1), nn.Linear(c_in, int(num_classes))]
    return QuantizedANN(nn.Sequential(*layers), 3, timesteps, int(num_classes))


class QuantBasicBlock(nn.Module):
    """ResNet basic block with quantised activations: ``q(bn2(conv2(q(bn1(conv1 x)))) + shortcut(x))``."""

    def __init__(
        self, c_in: int, c_out: int, stride: int, bits: int, init_scale: float, init_scale2: Optional[float] = None
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.act1 = LSQQuant(bits, init_scale)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
        self.act2 = LSQQuant(bits, init_scale if init_scale2 is None else init_scale2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act1(self.bn1(self.conv1(x)))
        return self.act2(self.bn2(self.conv2(h)) + self.shortcut(x))


def _scales(init_scale: float, init_scales: Optional[Sequence[float]]) -> tuple[float, float, float, float]:
    """(stem, block act1, block act2, output) initial scales."""
    if init_scales is None:
        return (float(init_scale),) * 4
    values = tuple(float(v) for v in init_scales)
    if len(values) != 4 or not all(v > 0 for v in values):
        raise ConfigError(
            f"init_scales must be 4 values > 0 (stem, block act1, block act2, output), got {init_scales!r}"
        )
    return values  # type: ignore[return-value]


def load_pretrained(model: nn.Module, path: str) -> None:
    """Initialise ``model`` from a state dict (or a snnlab checkpoint's ``model``) for fine-tuning.

    Tensors whose name and shape match are copied; quantiser scales keep their initial values
    when the file has none (a full-precision network). Raises ConfigError when nothing matches.
    """
    from pathlib import Path

    if not Path(path).is_file():
        raise ConfigError(f"model.pretrained: {path!r} is not a file (a state dict to fine-tune from)")
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = state.get("model", state) if isinstance(state, dict) else state
    own = model.state_dict()
    match = {k: v for k, v in state.items() if k in own and getattr(v, "shape", None) == own[k].shape}
    if not match:
        raise ConfigError(
            f"model.pretrained: no tensor of {path!r} matches this model's names and shapes "
            f"(expected names like {next(iter(own))!r})"
        )
    model.load_state_dict(match, strict=False)


@register_model("qann_resnet18")
def qann_resnet18(
    num_classes: int = 10,
    in_channels: int = 3,
    bits: int = 2,
    init_scale: float = 1.0,
    timesteps: int = 27,
    init_scales: Optional[Sequence[float]] = None,
    quantize_output: bool = False,
    pretrained: Optional[str] = None,
) -> QuantizedANN:
    """CIFAR ResNet-18 with b-bit activations (the Dynamic Confidence base network).

    Stem conv3x3 64 -> BatchNorm -> LSQQuant; stages [2, 2, 2, 2] of basic blocks with
    64, 128, 256, 512 channels (stride 2 from the second stage); average pool 4; Linear
    (-> :class:`OutputQuant` with ``quantize_output``).

    Args:
        num_classes: output classes.
        in_channels: image channels.
        bits: activation bits b (the paper: 2).
        init_scale: initial quantiser scale s of every quantiser (without ``init_scales``).
        timesteps: T_max of the converted SNN for static input (the paper: 27).
        init_scales: (stem, block act1, block act2, output) initial scales; the official code
            uses (0.6, 0.3, 0.4, 0.5).
        quantize_output: quantise the fc output in the ANN too, as the official code does.
        pretrained: a state dict to fine-tune from (matching names and shapes are copied).
    """
    stem, act1, act2, out = _scales(init_scale, init_scales)
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False),
        nn.BatchNorm2d(64),
        LSQQuant(bits, stem),
    ]
    c_in = 64
    for stage, c_out in enumerate((64, 128, 256, 512)):
        for block in range(2):
            stride = 2 if stage > 0 and block == 0 else 1
            layers.append(QuantBasicBlock(c_in, c_out, stride, bits, act1, act2))
            c_in = c_out
    layers += [nn.AvgPool2d(4), nn.Flatten(1), nn.Linear(512, int(num_classes))]
    if quantize_output:
        layers.append(OutputQuant(bits, out))
    model = QuantizedANN(nn.Sequential(*layers), 3, timesteps, int(num_classes))
    if pretrained is not None:
        load_pretrained(model, pretrained)
    return model
