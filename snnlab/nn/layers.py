"""Multi-step helpers for stateless layers on time-major input ``(T, B, ...)``."""

from __future__ import annotations

import torch
from torch import nn

from snnlab.errors import ShapeError


class TimeDistributed(nn.Module):
    """Apply a stateless module to every step by folding time into batch: ``(T, B, ...) -> (T, B, ...)``.

    Batch norm inside computes its statistics over ``T * B`` (as spikingjelly's multi-step layers).
    """

    def __init__(self, *modules: nn.Module) -> None:
        super().__init__()
        self.module = modules[0] if len(modules) == 1 else nn.Sequential(*modules)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 2:
            raise ShapeError(f"TimeDistributed: expected (T, B, ...), got {tuple(x.shape)}")
        T, B = x.shape[:2]
        y = self.module(x.reshape(T * B, *x.shape[2:]))
        return y.reshape(T, B, *y.shape[1:])


class SeqDropout(nn.Module):
    """Dropout with one mask shared by all time steps of a sequence ``(T, B, ...)``."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"SeqDropout: p must be in [0, 1), got {p!r}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        mask = torch.bernoulli(torch.full_like(x[0], 1.0 - self.p)) / (1.0 - self.p)
        return x * mask.unsqueeze(0)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Flatten(nn.Module):
    """Flatten per-step features: ``(T, B, C, H, W) -> (T, B, C*H*W)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(2)
