"""Exponential moving average of model weights: ``w_ema <- d * w_ema + (1 - d) * w`` after each step."""

from __future__ import annotations

import copy

import torch
from torch import nn

from snnlab.errors import ConfigError


class EMA:
    """Shadow copy of a model whose floating-point parameters and buffers track the model's.

    Args:
        model: the trained model (not modified).
        decay: in [0, 1); 0.9999 in DDPM, smaller for short runs.
        warmup: when True the decay ramps as ``min(decay, (1 + n) / (10 + n))`` over update ``n``.
    """

    def __init__(self, model: nn.Module, decay: float = 0.9999, warmup: bool = True) -> None:
        if not 0.0 <= decay < 1.0:
            raise ConfigError(f"train.ema_decay must be in [0, 1), got {decay}")
        self.decay, self.warmup, self.updates = float(decay), warmup, 0
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    def _rate(self) -> float:
        if not self.warmup:
            return self.decay
        return min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """One EMA step towards ``model``'s current weights (integer buffers are copied).

        The floating-point tensors move with two multi-tensor ops (``_foreach_mul_`` then
        ``_foreach_add_``: the same arithmetic, in the same order, as a per-tensor ``mul_`` and ``add_``).
        """
        d = self._rate()
        src = model.state_dict(keep_vars=True)
        floats, targets = [], []
        for name, v in self.model.state_dict(keep_vars=True).items():
            if v.is_floating_point():
                floats.append(v)
                targets.append(src[name].detach())
            else:
                v.copy_(src[name])
        if floats:
            torch._foreach_mul_(floats, d)
            torch._foreach_add_(floats, targets, alpha=1.0 - d)
        self.updates += 1

    def state_dict(self) -> dict:
        return {"model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()}, "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.updates = int(state["updates"])
