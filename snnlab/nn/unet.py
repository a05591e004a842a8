"""Blocks of the spiking UNet of SDDPM / SDM (Cao et al., WACV 2024; IEEE TAI 2024), time-major.

Every block maps ``(T, B, C, H, W)`` membrane inputs to ``(T, B, C', H', W')``. Convolutions
run on the ``T * B`` flattened batch; BatchNorm statistics are shared over time steps.

- :class:`StepConv2d`: ``y_t = p_t * Conv(x_t)``; with ``tsm=True`` ``p`` is the learnable
  temporal-wise spiking mechanism (TSM, SDM Eq. 16), one scalar per SNN step, initialised to 1;
  without it ``p_t = 1`` and the module holds only the convolution.
- :class:`SpikingResBlock` (pre-spike): ``h = BN(Conv(IF(x))) + temb_proj(temb)``;
  ``y = BN(Conv(IF(h))) + shortcut(x)``, the shortcut a 1x1 conv on the *membrane* input
  when the channel count changes.
- :class:`SpikingDown` / :class:`SpikingUp`: ``BN(Conv_s2(IF(x)))`` / ``BN(Conv(up2(IF(x))))``.
- :class:`OutputHead`: ``h_t = Conv(Swish(BN(x_t)))``; ``h_t += Swish(BN(Conv3d_(3,3,1)(h)_t))``;
  ``eps = sum_t 0.8^(T-1-t) h_t``.

The neuron factory (``make_neuron``) returns a spiking :class:`snnlab.nn.IF` for the SNN or an
activation for the same network without spikes.
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn import init

NeuronFactory = Callable[[], nn.Module]


class Swish(nn.Module):
    """``x * sigmoid(x)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(x)


def sinusoid_table(steps: int, dim: int) -> torch.Tensor:
    """Transformer position table ``(steps, dim)``: columns interleave sin and cos per frequency."""
    freq = torch.exp(-torch.arange(0, dim, 2).float() / dim * math.log(10000.0))  # (dim/2,)
    angle = torch.arange(steps).float()[:, None] * freq[None, :]  # (steps, dim/2)
    return torch.stack([torch.sin(angle), torch.cos(angle)], dim=-1).reshape(steps, dim)


class TimeEmbedding(nn.Module):
    """Diffusion-step embedding: frozen sinusoid table -> Linear -> Swish -> Linear, ``(B,) -> (B, tdim)``."""

    def __init__(self, steps: int, dim: int, tdim: int) -> None:
        super().__init__()
        self.table = nn.Embedding.from_pretrained(sinusoid_table(steps, dim))  # frozen (not trained)
        self.mlp = nn.Sequential(nn.Linear(dim, tdim), Swish(), nn.Linear(tdim, tdim))
        for m in self.mlp:
            if isinstance(m, nn.Linear):
                init.xavier_uniform_(m.weight)
                init.zeros_(m.bias)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.table(t))


class StepConv2d(nn.Module):
    """Conv2d applied per SNN step, optionally scaled per step by a learnable TSM factor ``p``."""

    def __init__(
        self, c_in: int, c_out: int, kernel_size: int, stride: int = 1, T: int = 4, tsm: bool = False, gain: float = 1.0
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=kernel_size // 2)
        init.xavier_uniform_(self.conv.weight, gain=gain)
        init.zeros_(self.conv.bias)
        self.T = T
        self.p: Optional[nn.Parameter] = None
        if tsm:
            self.add_tsm()

    def add_tsm(self) -> None:
        """Add the TSM factor ``p`` (shape ``(T,)``, ones) if it is not there yet."""
        if self.p is None:
            self.p = nn.Parameter(torch.ones(self.T, device=self.conv.weight.device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T, B = x.shape[:2]
        y = self.conv(x.flatten(0, 1))  # (T*B, C', H', W')
        y = y.reshape(T, B, *y.shape[1:])
        if self.p is not None:
            y = y * self.p.view(T, 1, 1, 1, 1)
        return y


class StepBN(nn.BatchNorm2d):
    """BatchNorm2d over the flattened ``(T*B)`` batch of a ``(T, B, C, H, W)`` tensor."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.flatten(0, 1)).reshape(x.shape)


class SpikingResBlock(nn.Module):
    """Pre-spike residual block with the time embedding added after the first conv."""

    def __init__(self, c_in: int, c_out: int, tdim: int, neuron: NeuronFactory, T: int, tsm: bool) -> None:
        super().__init__()
        self.temb_proj = nn.Sequential(Swish(), nn.Linear(tdim, c_out))
        init.xavier_uniform_(self.temb_proj[1].weight)
        init.zeros_(self.temb_proj[1].bias)
        self.neuron1, self.conv1, self.bn1 = neuron(), StepConv2d(c_in, c_out, 3, T=T, tsm=tsm), StepBN(c_out)
        self.neuron2, self.conv2, self.bn2 = neuron(), StepConv2d(c_out, c_out, 3, T=T, tsm=tsm), StepBN(c_out)
        self.shortcut = StepConv2d(c_in, c_out, 1, T=T, tsm=tsm) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        h = self.bn1(self.conv1(self.neuron1(x)))  # (T, B, C', H, W)
        h = h + self.temb_proj(temb)[None, :, :, None, None]  # temb (B, tdim)
        h = self.bn2(self.conv2(self.neuron2(h)))
        return h + self.shortcut(x)


class SpikingDown(nn.Module):
    """``BN(Conv3x3_stride2(IF(x)))``: halves H and W."""

    def __init__(self, c: int, neuron: NeuronFactory, T: int, tsm: bool) -> None:
        super().__init__()
        self.neuron, self.conv, self.bn = neuron(), StepConv2d(c, c, 3, stride=2, T=T, tsm=tsm), StepBN(c)

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(self.neuron(x)))


class SpikingUp(nn.Module):
    """``BN(Conv3x3(nearest_x2(IF(x))))``: doubles H and W."""

    def __init__(self, c: int, neuron: NeuronFactory, T: int, tsm: bool) -> None:
        super().__init__()
        self.neuron, self.conv, self.bn = neuron(), StepConv2d(c, c, 3, T=T, tsm=tsm), StepBN(c)

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        s = self.neuron(x)  # (T, B, C, H, W)
        up = F.interpolate(s.flatten(0, 1), scale_factor=2, mode="nearest")
        return self.bn(self.conv(up.reshape(*s.shape[:3], *up.shape[-2:])))


class OutputHead(nn.Module):
    """Non-spiking tail: per-step conv, a Conv3d over (H, W, T) residual, then the 0.8-weighted sum over T."""

    def __init__(self, c_in: int, c_img: int, T: int, tsm: bool, decay: float = 0.8) -> None:
        super().__init__()
        self.bn = StepBN(c_in)
        self.swish = Swish()
        self.conv = StepConv2d(c_in, c_img, 3, T=T, tsm=tsm, gain=1e-5)
        self.conv3d = nn.Conv3d(c_img, c_img, kernel_size=(3, 3, 1), padding=(1, 1, 0))
        self.bn3d = StepBN(c_img)
        self.register_buffer("weights", decay ** torch.arange(T - 1, -1, -1, dtype=torch.float32), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(self.swish(self.bn(x)))  # (T, B, c_img, H, W)
        r = self.conv3d(h.permute(1, 2, 3, 4, 0)).permute(4, 0, 1, 2, 3)  # (T, B, c_img, H, W)
        h = h + self.swish(self.bn3d(r.contiguous()))
        return torch.einsum("t,tbchw->bchw", self.weights.to(h.dtype), h)  # (B, c_img, H, W)
