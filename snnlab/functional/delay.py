"""Learnable synaptic delays (DCLS, Hammouamri et al. 2024): kernel construction, written once.

A delay layer is a 1-D convolution over time whose kernel holds, per synapse ``(o, i)`` and tap
``m``, one Gaussian bump of area ``w`` centred on a real-valued position ``P``. Kernel index
``k in [0, K)`` (``K = max_delay``) is the cross-correlation index; with causal left padding
``K - 1`` it stands for the delay ``K - 1 - k`` steps::

    c     = P + K // 2                                   # centre, kernel index
    s     = |sigma| + 0.27                               # Gaussian width (steps)
    k_i   = w * exp(-(i - c)^2 / (2 s^2)) / (sum_j exp(-(j - c)^2 / (2 s^2)) + 1e-7)
    delay = (K - 1 - K // 2) - P                         # = K // 2 - P for odd K (the paper)
    y[t, o] = sum_{i, m, d} k[o, i, m, K - 1 - d] * x[t - d, i]      (x = 0 outside [0, T))

The output has ``T + right_pad`` steps (the paper pads ``(K - 1) // 2`` on the right).
``P`` lives in ``[-(K // 2), K - 1 - K // 2]`` so that every delay lies in ``[0, K)``.
In evaluation the Gaussian collapses to one integer tap: ``delay = (K - 1 - K // 2) - round(P)``.

A *taps* form makes training fast: the Gaussian is truncated to the ``S = floor(2 truncate s) + 1``
integer delays nearest its centre (every delay within ``truncate * s`` of it, and no dropped
delay nearer than ``S / 2``), renormalised over them, and written as ``(g (O, I, M, S), d0 (O, I, M))`` with tap ``j`` at
delay ``d0 + j``; when the window covers the whole kernel it equals the dense form exactly.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

SIGMA_OFFSET = 0.27  # added to |sigma| (DCLS 'gauss')
SIGMA_FINAL = 0.23  # sigma reached by the paper's schedule (width 0.5)
NORM_EPS = 1e-7  # DCLS normalisation epsilon


def check_max_delay(max_delay: int) -> int:
    """Validate ``max_delay`` (kernel size in steps) and return it as an int."""
    if isinstance(max_delay, bool) or not isinstance(max_delay, int) or max_delay < 1:
        raise ValueError(f"max_delay must be an integer >= 1 (steps; delays lie in [0, max_delay)), got {max_delay!r}")
    return max_delay


def check_sigma(sigma: float, name: str = "sigma") -> float:
    """Validate a Gaussian sigma (steps, > 0) and return it as a float."""
    if not (isinstance(sigma, (int, float)) and not isinstance(sigma, bool) and math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"{name} must be a finite number > 0 (steps), got {sigma!r}")
    return float(sigma)


def centre_delay(max_delay: int) -> int:
    """Delay (steps) of position 0: ``K - 1 - K // 2``."""
    return max_delay - 1 - max_delay // 2


def position_bounds(max_delay: int) -> tuple[int, int]:
    """``(low, high)`` of positions so that every delay lies in ``[0, max_delay)``."""
    return -(max_delay // 2), centre_delay(max_delay)


def positions_to_delays(positions: torch.Tensor, max_delay: int) -> torch.Tensor:
    """Real-valued delays (steps) of positions: ``(K - 1 - K // 2) - P`` (same shape)."""
    return centre_delay(max_delay) - positions


def integer_delays(positions: torch.Tensor, max_delay: int) -> torch.Tensor:
    """Evaluation delays: positions rounded (half to even, as DCLS) and clamped, as int64 steps."""
    low, high = position_bounds(max_delay)
    rounded = torch.round(positions.detach()).clamp(low, high)
    return (centre_delay(max_delay) - rounded).long()


def delays_to_positions(delays: torch.Tensor, max_delay: int) -> torch.Tensor:
    """Positions that put each tap exactly on an integer delay; rejects delays outside ``[0, K)``."""
    if delays.is_floating_point() and not torch.equal(delays, delays.round()):
        raise ValueError("delays must be integers (steps)")
    if delays.numel() and (int(delays.min()) < 0 or int(delays.max()) >= max_delay):
        raise ValueError(
            f"delays must lie in [0, max_delay={max_delay}) steps, got range [{int(delays.min())}, {int(delays.max())}]"
        )
    return (centre_delay(max_delay) - delays).to(torch.get_default_dtype())


def gauss_kernel(weight: torch.Tensor, positions: torch.Tensor, sigma: float, max_delay: int) -> torch.Tensor:
    """Dense DCLS kernel (the reference): ``(O, I, M)`` weights and positions -> ``(O, I, K)``.

    Index ``k`` of the last axis is the cross-correlation index (delay ``K - 1 - k``).
    """
    idx = torch.arange(max_delay, device=weight.device, dtype=weight.dtype)  # (K,)
    centre = (positions + max_delay // 2).unsqueeze(-1)  # (O, I, M, 1)
    width = abs(sigma) + SIGMA_OFFSET
    bumps = torch.exp(-0.5 * ((idx - centre) / width) ** 2)  # (O, I, M, K)
    bumps = bumps / (bumps.sum(-1, keepdim=True) + NORM_EPS)
    return (bumps * weight.unsqueeze(-1)).sum(2)  # (O, I, K)


def window_size(sigma: float, max_delay: int, truncate: float) -> int:
    """Window ``S``: enough nearest integer taps to hold all within ``truncate * (|sigma| + 0.27)`` (at most K)."""
    radius = truncate * (abs(sigma) + SIGMA_OFFSET)
    return int(min(max_delay, math.floor(2.0 * radius) + 1))


def gauss_taps(
    weight: torch.Tensor, positions: torch.Tensor, sigma: float, max_delay: int, truncate: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Truncated DCLS kernel in taps form.

    Args:
        weight: ``(O, I, M)`` tap weights.
        positions: ``(O, I, M)`` real positions.
        sigma: Gaussian sigma (steps); the width is ``|sigma| + 0.27``.
        max_delay: kernel size ``K`` (steps).
        truncate: half-window in widths; the ``S`` delays nearest the centre are kept.

    Returns:
        ``g (O, I, M, S)`` tap weights (differentiable in ``weight`` and ``positions``) and
        ``d0 (O, I, M)`` int64 delay of tap 0 (tap ``j`` has delay ``d0 + j``).
    """
    width = abs(sigma) + SIGMA_OFFSET
    size = window_size(sigma, max_delay, truncate)
    centre = positions_to_delays(positions, max_delay)  # (O, I, M) real delays
    with torch.no_grad():
        d0 = torch.floor(centre - (size - 1) / 2 + 0.5).clamp(0, max_delay - size).long()
    offsets = torch.arange(size, device=weight.device, dtype=weight.dtype)  # (S,)
    delays = d0.to(weight.dtype).unsqueeze(-1) + offsets  # (O, I, M, S)
    bumps = torch.exp(-0.5 * ((delays - centre.unsqueeze(-1)) / width) ** 2)
    bumps = bumps / (bumps.sum(-1, keepdim=True) + NORM_EPS)
    return bumps * weight.unsqueeze(-1), d0


def taps_to_kernel(g: torch.Tensor, d0: torch.Tensor, max_delay: int) -> torch.Tensor:
    """Scatter taps ``g (O, I, M, S)`` at delays ``d0 + j`` into a dense ``(O, I, K)`` kernel."""
    size = g.shape[-1]
    delays = d0.unsqueeze(-1) + torch.arange(size, device=d0.device)  # (O, I, M, S)
    index = (max_delay - 1 - delays).flatten(2)  # (O, I, M*S) kernel index
    kernel = g.new_zeros(g.shape[0], g.shape[1], max_delay)
    return kernel.scatter_add(2, index, g.flatten(2))


def delay_conv(x: torch.Tensor, kernel: torch.Tensor, right_pad: int) -> torch.Tensor:
    """Causal delay convolution: ``x (B, I, T)``, ``kernel (O, I, K)`` -> ``(B, O, T + right_pad)``."""
    size = kernel.shape[-1]
    return F.conv1d(F.pad(x, (size - 1, right_pad)), kernel)


def sigma_decay_factor(sigma_init: float, epochs: int) -> float:
    """Per-epoch factor of the paper's schedule: ``(0.23 / sigma_init) ** (1 / (epochs // 4))``."""
    final = epochs // 4
    if final < 1:
        return 1.0
    return (SIGMA_FINAL / sigma_init) ** (1.0 / final)


def decayed_sigma(sigma: float, sigma_init: float, epoch: int, epochs: int) -> float:
    """Sigma after the end of ``epoch`` (0-based): decays while ``epoch < epochs // 4`` and ``sigma > 0.23``."""
    if epoch < epochs // 4 and sigma > SIGMA_FINAL:
        return sigma * sigma_decay_factor(sigma_init, epochs)
    return sigma
