"""Reference (torch) kernels of the delay ops; every fast delay kernel is tested equal to these.

Ops (all on ``x (B, I, T)`` channel-major, output ``(B, O, T_out)``):

- ``delay.taps(x, g, d0, t_out)``: taps form, ``g (O, I, M, S)``, tap ``j`` of ``(o, i, m)`` at
  delay ``d0[o, i, m] + j``: ``y[b, o, t] = sum g[o, i, m, j] * x[b, i, t - d0[o, i, m] - j]``.
  The reference scatters the taps into a dense kernel and runs one causal convolution; autograd
  gives the gradients wrt ``x`` and ``g``.
- ``delay.dense(x, kernel, t_out)``: dense kernel ``(O, I, K)`` (index ``k`` = delay ``K - 1 - k``);
  the CPU fast path computes it in the frequency domain (:mod:`snnlab.kernels.common.spectral_delay`).
"""

from __future__ import annotations

import torch

from snnlab.functional.delay import delay_conv, taps_to_kernel
from snnlab.kernels.registry import register


def check_taps_args(x: torch.Tensor, g: torch.Tensor, d0: torch.Tensor, t_out: int) -> int:
    """Check the shared contract of ``delay.taps`` kernels; returns the kernel size needed."""
    if x.dim() != 3 or g.dim() != 4 or d0.shape != g.shape[:3] or g.shape[1] != x.shape[1]:
        raise ValueError(
            f"delay.taps: expected x (B, I, T), g (O, I, M, S), d0 (O, I, M); got "
            f"x {tuple(x.shape)}, g {tuple(g.shape)}, d0 {tuple(d0.shape)}"
        )
    if t_out < x.shape[2]:
        raise ValueError(f"delay.taps: t_out must be >= T={x.shape[2]}, got {t_out}")
    low = int(d0.min()) if d0.numel() else 0
    if low < 0:
        raise ValueError(f"delay.taps: delays must be >= 0, got d0 min {low}")
    return (int(d0.max()) + g.shape[-1]) if d0.numel() else 1


@register("delay.taps", "torch")
def taps_torch(x: torch.Tensor, g: torch.Tensor, d0: torch.Tensor, t_out: int) -> torch.Tensor:
    """Taps-form delay convolution by densifying: ``(B, I, T) -> (B, O, t_out)``."""
    size = check_taps_args(x, g, d0, t_out)
    kernel = taps_to_kernel(g, d0, size)  # (O, I, size)
    return delay_conv(x, kernel, t_out - x.shape[2])


@register("delay.dense", "torch")
def dense_torch(x: torch.Tensor, kernel: torch.Tensor, t_out: int) -> torch.Tensor:
    """Dense delay convolution: ``x (B, I, T)``, ``kernel (O, I, K)`` -> ``(B, O, t_out)``."""
    return delay_conv(x, kernel, t_out - x.shape[2])
