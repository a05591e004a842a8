"""Gaussian diffusion (DDPM, Ho et al. 2020) with epsilon prediction, and its DDPM and DDIM samplers.

Forward process, ``N`` steps of linear betas ``beta_1 .. beta_N`` (1e-4 -> 0.02, N = 1000):

``x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps``, ``abar_t = prod_{s<=t} (1 - beta_s)``;
the network learns ``eps`` with an MSE loss (``t`` indexed 0..N-1 as in the official code).

- DDPM ancestral sampling, "fixed large" variance ``sigma_t^2 = beta_t`` (first step: the
  posterior variance ``beta~_1``, as pytorch-ddpm does).
- DDIM (Song et al. 2021), ``eta = 0`` by default, on an evenly spaced sub-sequence of ``S <= N``
  steps: ``x_prev = sqrt(abar_prev) x0_hat + sqrt(1 - abar_prev - sigma^2) eps + sigma z``,
  ``x0_hat`` clipped to [-1, 1].
"""

from __future__ import annotations

from typing import Callable, Optional

import torch

from snnlab.errors import ConfigError, ShapeError

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


def ddim_timesteps(total: int, steps: int) -> list[int]:
    """Evenly spaced steps ``total - 1 .. 0`` (descending, ``steps`` of them, always ending at 0)."""
    if not (isinstance(steps, int) and 1 <= steps <= total):
        raise ConfigError(f"sampling steps must be an int in 1..{total} (the training chain length), got {steps!r}")
    stride = total / steps
    return sorted({int(round(i * stride)) for i in range(steps)}, reverse=True)


def _t(step: int, n: int, like: torch.Tensor) -> torch.Tensor:
    return torch.full((n,), step, dtype=torch.long, device=like.device)


@torch.no_grad()
def ddim_sample(
    model: EpsModel,
    schedule: NoiseSchedule,
    x_T: torch.Tensor,
    steps: int = 50,
    eta: float = 0.0,
    generator: Optional[torch.Generator] = None,
    progress: Optional[Callable[[int], None]] = None,
) -> torch.Tensor:
    """DDIM from noise ``x_T`` (B, C, H, W) in ``steps`` network evaluations; returns x_0 in [-1, 1]."""
    if eta < 0:
        raise ConfigError(f"DDIM eta must be >= 0, got {eta}")
    seq = ddim_timesteps(schedule.steps, steps)
    x = x_T
    for i, step in enumerate(seq):
        t = _t(step, x.shape[0], x)
        eps = model(x, t)
        x0 = schedule.predict_x0(x, t, eps).clamp(-1.0, 1.0)
        eps = schedule.predict_eps(x, t, x0)  # consistent with the clipped x0
        if i + 1 == len(seq):
            x = x0
        else:
            x = _ddim_step(schedule, x0, eps, step, seq[i + 1], eta, generator)
        if progress:
            progress(1)
    return x


def _ddim_step(
    schedule: NoiseSchedule,
    x0: torch.Tensor,
    eps: torch.Tensor,
    step: int,
    prev: int,
    eta: float,
    generator: Optional[torch.Generator],
) -> torch.Tensor:
    ab, ab_prev = float(schedule.alphas_bar[step]), float(schedule.alphas_bar[prev])
    sigma = eta * ((1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev)) ** 0.5
    x = ab_prev**0.5 * x0 + max(1 - ab_prev - sigma**2, 0.0) ** 0.5 * eps
    if sigma > 0:
        x = x + sigma * torch.randn(x0.shape, device=x0.device, dtype=x0.dtype, generator=generator)
    return x


@torch.no_grad()
def ddpm_sample(
    model: EpsModel,
    schedule: NoiseSchedule,
    x_T: torch.Tensor,
    generator: Optional[torch.Generator] = None,
    progress: Optional[Callable[[int], None]] = None,
) -> torch.Tensor:
    """Ancestral sampling over all ``N`` steps with the fixed-large variance; returns x_0 in [-1, 1]."""
    var = torch.cat([schedule.posterior_var[1:2], schedule.betas[1:]])  # fixedlarge
    x = x_T
    for step in range(schedule.steps - 1, -1, -1):
        t = _t(step, x.shape[0], x)
        eps = model(x, t)
        x0 = schedule.predict_x0(x, t, eps).clamp(-1.0, 1.0)
        mean = _posterior_mean(schedule, x0, x, step)
        if step > 0:
            z = torch.randn(x.shape, device=x.device, dtype=x.dtype, generator=generator)
            x = mean + float(var[step]) ** 0.5 * z
        else:
            x = mean
        if progress:
            progress(1)
    return x.clamp(-1.0, 1.0)


def _posterior_mean(schedule: NoiseSchedule, x0: torch.Tensor, x_t: torch.Tensor, step: int) -> torch.Tensor:
    ab = float(schedule.alphas_bar[step])
    ab_prev = float(schedule.alphas_bar[step - 1]) if step > 0 else 1.0
    beta = float(schedule.betas[step])
    c0 = ab_prev**0.5 * beta / (1 - ab)
    ct = (1 - beta) ** 0.5 * (1 - ab_prev) / (1 - ab)
    return c0 * x0 + ct * x_t


def sample(
    model: EpsModel,
    schedule: NoiseSchedule,
    shape: tuple[int, ...],
    sampler: str = "ddim",
    steps: int = 50,
    eta: float = 0.0,
    seed: int = 0,
    device: Optional[torch.device] = None,
    progress: Optional[Callable[[int], None]] = None,
) -> torch.Tensor:
    """Draw ``shape[0]`` images with a seeded generator; ``sampler`` "ddim" or "ddpm" (all N steps)."""
    if sampler not in ("ddim", "ddpm"):
        raise ConfigError(f"sampler must be ddim or ddpm, got {sampler!r}")
    if len(shape) != 4:
        raise ShapeError(f"sample shape must be (B, C, H, W), got {shape}")
    gen = torch.Generator(device=device or "cpu").manual_seed(int(seed))
    x_T = torch.randn(shape, generator=gen, device=device or "cpu")
    if sampler == "ddpm":
        return ddpm_sample(model, schedule, x_T, gen, progress)
    return ddim_sample(model, schedule, x_T, steps, eta, gen, progress)
