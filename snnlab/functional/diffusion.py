"""The forward process of Gaussian diffusion (DDPM, Ho et al. 2020), written once.

``N`` steps of linear betas ``beta_1 .. beta_N`` (1e-4 -> 0.02, N = 1000):
``x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps``, ``abar_t = prod_{s<=t} (1 - beta_s)``; the
network learns ``eps`` with an MSE loss (``t`` indexed 0..N-1 as in the official code). Training
(:mod:`snnlab.train.diffusion`) and the samplers (:mod:`snnlab.inference.diffusion`) both use
this schedule, so it sits below them.
"""

from __future__ import annotations

from typing import Callable, Optional

import torch

from snnlab.errors import ConfigError

EpsModel = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class NoiseSchedule:
    """Linear beta schedule and the quantities derived from it (float64 tables, cast on use)."""

    def __init__(self, steps: int = 1000, beta_1: float = 1e-4, beta_T: float = 0.02) -> None:
        if not (isinstance(steps, int) and steps >= 1):
            raise ConfigError(f"diffusion.steps must be an int >= 1, got {steps!r}")
        if not 0 < beta_1 <= beta_T < 1:
            raise ConfigError(f"diffusion betas must satisfy 0 < beta_1 <= beta_T < 1, got {beta_1}, {beta_T}")
        self.steps = steps
        self.betas = torch.linspace(beta_1, beta_T, steps, dtype=torch.float64)  # (N,)
        self.alphas_bar = torch.cumprod(1.0 - self.betas, dim=0)  # (N,)
        prev = torch.cat([torch.ones(1, dtype=torch.float64), self.alphas_bar[:-1]])
        self.posterior_var = self.betas * (1.0 - prev) / (1.0 - self.alphas_bar)  # beta~_t

    def _at(self, table: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return table.to(like.device)[t].to(like.dtype).view(-1, *([1] * (like.dim() - 1)))

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """``x_t`` for clean images ``x0`` (B, C, H, W) at steps ``t`` (B,) with Gaussian ``noise``."""
        ab = self._at(self.alphas_bar, t, x0)
        return ab.sqrt() * x0 + (1.0 - ab).sqrt() * noise

    def predict_x0(self, x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """Invert :meth:`q_sample` given the predicted noise."""
        ab = self._at(self.alphas_bar, t, x_t)
        return (x_t - (1.0 - ab).sqrt() * eps) / ab.sqrt()

    def predict_eps(self, x_t: torch.Tensor, t: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        """The noise that takes ``x0`` to ``x_t`` at steps ``t``."""
        ab = self._at(self.alphas_bar, t, x_t)
        return (x_t - ab.sqrt() * x0) / (1.0 - ab).sqrt()

    def loss(self, model: EpsModel, x0: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """Epsilon-prediction MSE at uniformly drawn steps (the DDPM "simple" loss)."""
        t = torch.randint(0, self.steps, (x0.shape[0],), device=x0.device, generator=generator)
        noise = torch.randn(x0.shape, device=x0.device, dtype=x0.dtype, generator=generator)
        return torch.mean((model(self.q_sample(x0, t, noise), t) - noise) ** 2)
