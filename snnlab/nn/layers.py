"""Multi-step helpers for stateless layers on time-major input ``(T, B, ...)``."""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import nn

from snnlab.errors import ShapeError
from snnlab.kernels.pool import empty as pooled_empty


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
        mask = self.sample_mask(x[0])
        return x if mask is None else MaskMul.apply(x, mask)

    def sample_mask(self, like: torch.Tensor) -> Optional[torch.Tensor]:
        """The mask of one call for one step ``like (B, ...)``, scaled by ``1 / (1 - p)``; None when off."""
        if not self.training or self.p == 0.0:
            return None
        return torch.bernoulli(torch.full_like(like, 1.0 - self.p)) / (1.0 - self.p)  # (B, ...)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class MaskMul(torch.autograd.Function):
    """``x (T, B, ...) * mask (B, ...)`` (one mask for every step) with reused output buffers.

    The same product and gradient as ``x * mask``; the ``(T, B, ...)`` results come from
    :mod:`snnlab.kernels.pool`, so a training step does not fault in fresh pages for them.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # noqa: D102
        ctx.save_for_backward(mask)
        return torch.mul(x, mask, out=pooled_empty(tuple(x.shape), x.dtype, x.device))

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple:  # noqa: D102
        (mask,) = ctx.saved_tensors
        if torch.is_grad_enabled():  # double backward: stay differentiable
            return g * mask, None
        return torch.mul(g, mask, out=pooled_empty(tuple(g.shape), g.dtype, g.device)), None


class Flatten(nn.Module):
    """Flatten per-step features: ``(T, B, C, H, W) -> (T, B, C*H*W)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(2)
