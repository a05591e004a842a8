"""Spiking UNet of SDDPM (Cao et al., WACV 2024) and SDM with TSM (Cao et al., IEEE TAI 2024).

A DDPM UNet (ch 128, multipliers [1, 2, 2, 4], 2 residual blocks per level, 2 middle blocks,
no attention, as the official code has it) whose activations are integrate-and-fire neurons
(threshold 1, hard reset to 0, ATan surrogate). The image ``x`` (B, C, H, W) is repeated over
``T`` SNN steps; the stem is ``BN(Conv(x))`` (the real image, no spike) -> IF -> ``BN(Conv)``;
blocks are in :mod:`snnlab.nn.unet`; the output is ``eps = sum_t 0.8^(T-1-t) h_t``.

The 32 px CIFAR configuration holds 66,696,413 parameters, including the frozen 1000 x 128
sinusoid table; the paper's "63.61M" is this count divided by 1024^2. ``tsm=True`` adds one
learnable ``p`` in R^T per convolution (67 convolutions: 268 parameters at T = 4).
``spiking=False`` builds the same network with Swish in place of every IF (the ANN baseline).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from snnlab import nn as snn
from snnlab.errors import ConfigError, ShapeError
from snnlab.models.layout import STATIC
from snnlab.models.registry import register_model
from snnlab.nn.unet import OutputHead, SpikingDown, SpikingResBlock, SpikingUp, StepBN, StepConv2d, Swish, TimeEmbedding


def _check_config(
    image_size: int, ch: int, ch_mult: Sequence[int], num_res_blocks: int, T: int, v_threshold: float
) -> None:
    levels = len(ch_mult)
    if levels < 1 or any(int(m) < 1 for m in ch_mult):
        raise ConfigError(f"model.ch_mult must be a non-empty list of positive ints, got {list(ch_mult)}")
    if image_size % (2 ** (levels - 1)) != 0:
        raise ConfigError(
            f"model.image_size {image_size} is not divisible by 2^(levels-1) = {2 ** (levels - 1)} "
            f"for ch_mult {list(ch_mult)}; use a multiple of {2 ** (levels - 1)}"
        )
    if ch < 2 or ch % 2:
        raise ConfigError(f"model.ch must be an even int >= 2 (sinusoidal embedding), got {ch}")
    if num_res_blocks < 1 or T < 1:
        raise ConfigError(f"model.num_res_blocks and model.T must be >= 1, got {num_res_blocks} and {T}")
    if not v_threshold > 0:
        raise ConfigError(f"model.v_threshold must be > 0, got {v_threshold}")


@register_model("sddpm_unet")
class SpikingUNet(nn.Module):
    """Spiking UNet noise predictor ``eps(x_t, t)``: ``(B, C, H, W), (B,) -> (B, C, H, W)``.

    Args:
        in_channels: image channels (3 CIFAR/CelebA, 1 Fashion-MNIST).
        image_size: side of the square input, divisible by ``2^(len(ch_mult) - 1)``.
        ch: base channels; the time embedding has ``4 * ch``.
        ch_mult: channel multipliers per level (one level per resolution).
        num_res_blocks: residual blocks per level on the way down (one more on the way up).
        T: SNN time steps the image is repeated over.
        diffusion_steps: length of the diffusion chain (rows of the time-embedding table).
        tsm: add the temporal-wise spiking mechanism factors (SDM).
        spiking: IF neurons (True) or Swish activations (the non-spiking baseline).
        v_threshold: IF threshold (1.0 in the papers).
        surrogate_alpha: ATan sharpness.
        backend: neuron kernel backend (auto, torch, numba, cuda).
    """

    input_layout = STATIC  # noisy images (B, C, H, W); the T steps are made inside

    def __init__(
        self,
        in_channels: int = 3,
        image_size: int = 32,
        ch: int = 128,
        ch_mult: Sequence[int] = (1, 2, 2, 4),
        num_res_blocks: int = 2,
        T: int = 4,
        diffusion_steps: int = 1000,
        tsm: bool = False,
        spiking: bool = True,
        v_threshold: float = 1.0,
        surrogate_alpha: float = 2.0,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        _check_config(image_size, ch, ch_mult, num_res_blocks, T, v_threshold)
        self.in_channels, self.image_size, self.T, self.levels = in_channels, image_size, T, len(ch_mult)
        self.spiking, self.diffusion_steps = spiking, diffusion_steps
        sg = {"name": "atan", "alpha": surrogate_alpha}
        neuron = (
            (lambda: snn.IF(v_threshold=v_threshold, v_reset=0.0, surrogate=sg, backend=backend)) if spiking else Swish
        )
        tdim = 4 * ch
        self.time_embedding = TimeEmbedding(diffusion_steps, ch, tdim)
        self.stem_conv, self.stem_bn = StepConv2d(in_channels, ch, 3, T=T, tsm=tsm), StepBN(ch)
        self.stem_neuron = neuron()
        self.stem_conv2, self.stem_bn2 = StepConv2d(ch, ch, 3, T=T, tsm=tsm), StepBN(ch)
        self._build_body(ch, ch_mult, num_res_blocks, tdim, neuron, tsm)
        self.head = OutputHead(ch * ch_mult[0], in_channels, T, tsm)

    def _build_body(self, ch: int, ch_mult: Sequence[int], n_res: int, tdim: int, neuron: Any, tsm: bool) -> None:
        T = self.T
        self.down, chs, now = nn.ModuleList(), [ch], ch
        for i, mult in enumerate(ch_mult):
            for _ in range(n_res):
                self.down.append(SpikingResBlock(now, ch * mult, tdim, neuron, T, tsm))
                now = ch * mult
                chs.append(now)
            if i != len(ch_mult) - 1:
                self.down.append(SpikingDown(now, neuron, T, tsm))
                chs.append(now)
        self.middle = nn.ModuleList([SpikingResBlock(now, now, tdim, neuron, T, tsm) for _ in range(2)])
        self.up = nn.ModuleList()
        for i, mult in reversed(list(enumerate(ch_mult))):
            for _ in range(n_res + 1):
                self.up.append(SpikingResBlock(chs.pop() + now, ch * mult, tdim, neuron, T, tsm))
                now = ch * mult
            if i != 0:
                self.up.append(SpikingUp(now, neuron, T, tsm))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if (
            x.dim() != 4
            or x.shape[1] != self.in_channels
            or x.shape[-1] % (2 ** (self.levels - 1))
            or x.shape[-2] % (2 ** (self.levels - 1))
        ):
            raise ShapeError(
                f"sddpm_unet: expected images (B, {self.in_channels}, H, W) with H, W divisible by "
                f"{2 ** (self.levels - 1)}, got {tuple(x.shape)}"
            )
        temb = self.time_embedding(t)  # (B, 4ch)
        h = x.unsqueeze(0).expand(self.T, *x.shape)  # (T, B, C, H, W)
        h = self.stem_bn(self.stem_conv(h))
        h = self.stem_bn2(self.stem_conv2(self.stem_neuron(h)))
        skips = [h]
        for block in self.down:
            h = block(h, temb)
            skips.append(h)
        for block in self.middle:
            h = block(h, temb)
        for block in self.up:
            if isinstance(block, SpikingResBlock):
                h = torch.cat([h, skips.pop()], dim=2)
            h = block(h, temb)
        return self.head(h)  # (B, C, H, W)

    def add_tsm(self) -> int:
        """Turn on TSM for a trained SDDPM (fine-tuning, SDM): add ``p = 1`` to every conv; returns the count."""
        convs = [m for m in self.modules() if isinstance(m, StepConv2d)]
        for m in convs:
            m.add_tsm()
        return len(convs) * self.T

    def neurons(self) -> list[snn.IF]:
        """Every IF neuron module, in construction order."""
        return [m for m in self.modules() if isinstance(m, snn.IF)]

    @contextmanager
    def threshold_scale(self, scale: float) -> Iterator[None]:
        """Threshold guidance (SDM Eq. 18): every IF threshold times ``scale`` inside the block."""
        if not (isinstance(scale, (int, float)) and scale > 0):
            raise ConfigError(f"threshold scale must be a number > 0 (the papers use 0.997..1.003), got {scale!r}")
        saved = [(m, m.params) for m in self.neurons()]
        try:
            for m, p in saved:
                m.params = dataclasses.replace(p, v_threshold=p.v_threshold * float(scale))
            yield
        finally:
            for m, p in saved:
                m.params = p


def load_sddpm_weights(model: SpikingUNet, state: dict[str, torch.Tensor], source: str) -> list[str]:
    """Load an SDDPM state dict into ``model`` (which may have TSM); returns the keys it added (``p``).

    Raises:
        CheckpointError: keys other than TSM factors are missing, or shapes differ.
    """
    from snnlab.errors import CheckpointError

    own = model.state_dict()
    unexpected = sorted(set(state) - set(own))
    missing = sorted(set(own) - set(state))
    if unexpected or any(not k.endswith(".p") for k in missing):
        bad = unexpected[:3] or [k for k in missing if not k.endswith(".p")][:3]
        raise CheckpointError(
            f"{source}: weights do not fit this sddpm_unet (e.g. {bad}); is it a checkpoint of another model or size?"
        )
    for k, v in state.items():
        if own[k].shape != v.shape:
            raise CheckpointError(f"{source}: {k} has shape {tuple(v.shape)}, the model wants {tuple(own[k].shape)}")
    model.load_state_dict(state, strict=False)
    return missing


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Parameters of ``model`` (all of them by default, as the papers count)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


__all__ = ["SpikingUNet", "count_parameters", "load_sddpm_weights"]
