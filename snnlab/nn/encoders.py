"""Encoders: static or real-valued input ``(B, ...)`` -> spike or current trains ``(T, B, ...)``.

- :class:`DirectEncoder`: repeat the input over ``T`` steps (the first layer sees real values).
- :class:`PoissonEncoder`: Bernoulli spikes with probability ``clamp(x, 0, 1) * max_rate`` per step.
- :class:`LatencyEncoder`: one spike per input at ``t = round((1 - x) * (T - 1))`` (time to first
  spike: bright inputs fire early); values <= ``threshold`` never fire.
- :class:`DeltaEncoder`: on a sequence ``(T, B, ...)``, spikes where the change since the last
  emitted level exceeds ``threshold``; ON/OFF as +1/-1 or as two channels.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from snnlab.errors import ShapeError


def _check_steps(owner: str, T: int) -> None:
    if not isinstance(T, int) or T < 1:
        raise ValueError(f"{owner}: T must be an integer >= 1, got {T!r}")


class DirectEncoder(nn.Module):
    """``x (B, ...) -> x repeated (T, B, ...)`` (a view, no copy)."""

    def __init__(self, T: int) -> None:
        super().__init__()
        _check_steps("DirectEncoder", T)
        self.T = T

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(0).expand(self.T, *x.shape)


class PoissonEncoder(nn.Module):
    """Rate coding: ``P(spike) = clamp(x, 0, 1) * max_rate`` independently per step."""

    def __init__(self, T: int, max_rate: float = 1.0, generator: Optional[torch.Generator] = None) -> None:
        super().__init__()
        _check_steps("PoissonEncoder", T)
        if not 0.0 < max_rate <= 1.0:
            raise ValueError(f"PoissonEncoder: max_rate must be in (0, 1], got {max_rate!r}")
        self.T, self.max_rate, self.generator = T, max_rate, generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = x.clamp(0.0, 1.0) * self.max_rate
        u = torch.rand((self.T, *x.shape), device=x.device, dtype=x.dtype, generator=self.generator)
        return (u < p).to(x.dtype)


class LatencyEncoder(nn.Module):
    """Time-to-first-spike coding of inputs in [0, 1]; one spike at most per input."""

    def __init__(self, T: int, threshold: float = 0.0) -> None:
        super().__init__()
        _check_steps("LatencyEncoder", T)
        self.T, self.threshold = T, threshold

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.clamp(0.0, 1.0)
        t_fire = torch.round((1.0 - x) * (self.T - 1)).long()  # (B, ...)
        steps = torch.arange(self.T, device=x.device).view(-1, *([1] * x.dim()))
        out = (steps == t_fire.unsqueeze(0)) & (x > self.threshold).unsqueeze(0)
        return out.to(x.dtype)


class DeltaEncoder(nn.Module):
    """Send-on-delta coding of a sequence ``(T, B, ...)``.

    Emits +1 (ON) when ``x[t] - ref >= threshold`` and -1 (OFF) when ``<= -threshold``; the
    reference level moves by ``threshold`` per event. ``two_channel=True`` returns ON and OFF as a
    new dim 2: ``(T, B, 2, ...)``.
    """

    def __init__(self, threshold: float = 0.1, two_channel: bool = False) -> None:
        super().__init__()
        if not threshold > 0:
            raise ValueError(f"DeltaEncoder: threshold must be > 0, got {threshold!r}")
        self.threshold, self.two_channel = threshold, two_channel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 2:
            raise ShapeError(f"DeltaEncoder: expected (T, B, ...), got {tuple(x.shape)}")
        ref = x[0].clone()
        out = []
        for t in range(x.shape[0]):
            diff = x[t] - ref
            on = (diff >= self.threshold).to(x.dtype)
            off = (diff <= -self.threshold).to(x.dtype)
            ref = ref + self.threshold * (on - off)
            out.append(torch.stack([on, off], 1) if self.two_channel else on - off)
        return torch.stack(out)
