"""The DDPM and DDIM samplers of Gaussian diffusion with epsilon prediction.

The forward process and its schedule are :class:`snnlab.functional.diffusion.NoiseSchedule`.

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
from snnlab.functional.diffusion import EpsModel, NoiseSchedule


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
