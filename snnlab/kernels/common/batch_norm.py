"""``batch_norm.rows``: training-mode batch normalisation of ``x (M, C)`` over its rows.

The equation of ``torch.nn.functional.batch_norm`` in training mode (the torch backend's kernel,
the reference), per channel ``c`` over the ``M`` rows (in snnlab's multi-step layers ``M = T B``)::

    mean = sum_m x / M,   var = sum_m (x - mean)^2 / M,   invstd = 1 / sqrt(var + eps)
    y    = (x - mean) invstd w + b
    running_mean <- (1 - f) running_mean + f mean,   running_var <- (1 - f) running_var + f var M / (M - 1)
    dx   = w invstd (dy - sum_m dy / M - (x - mean) invstd^2 sum_m dy (x - mean) / M)
    dw   = invstd sum_m dy (x - mean),   db = sum_m dy

A fast backend provides a *launcher* with ``stats(x, shift) -> (sum (x - shift), sum (x - shift)^2)``
(float64, per channel; the shift, the first row, keeps the variance free of cancellation), ``affine(x, mean, a, b) -> (x - mean) a + b`` (per-channel vectors), ``grad_sums(dy, x, mean) ->
(sum dy, sum dy (x - mean))`` (float64) and ``grad_input(dy, x, mean, a, b, c) -> dy a + (x - mean) b
+ c``, and
registers it with :func:`register_batch_norm`: two passes over ``x`` forward, two backward.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
import torch.nn.functional as F

from snnlab.kernels.registry import register


@register("batch_norm.rows", "torch")
def batch_norm_rows_torch(
    x: torch.Tensor,
    weight: Optional[torch.Tensor],
    bias: Optional[torch.Tensor],
    running_mean: Optional[torch.Tensor],
    running_var: Optional[torch.Tensor],
    factor: float,
    eps: float,
) -> torch.Tensor:
    """The reference: ``F.batch_norm`` in training mode (``factor``: the running averages' weight)."""
    return F.batch_norm(x, running_mean, running_var, weight, bias, True, factor, eps)


class BatchNormRowsFunction(torch.autograd.Function):
    """Autograd of training-mode batch normalisation over rows, from a launcher's passes."""

    @staticmethod
    def forward(ctx: Any, x, weight, bias, running_mean, running_var, factor, eps, launcher):  # noqa: D102
        mean, invstd, w, a, b = batch_stats(launcher, x, weight, bias, running_mean, running_var, factor, eps)
        ctx.launcher = launcher
        ctx.save_for_backward(x, mean, invstd, w)
        return launcher.affine(x, mean.to(x.dtype), a.to(x.dtype), b.to(x.dtype))

    @staticmethod
    def backward(ctx: Any, gy: torch.Tensor):  # noqa: D102
        x, mean, invstd, w = ctx.saved_tensors
        gy = gy.contiguous()
        n_rows = x.shape[0]
        mean_x = mean.to(x.dtype)
        sdy, sdyx = ctx.launcher.grad_sums(gy, x, mean_x)  # (C,) float64
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            coef = grad_coefficients(sdy, sdyx, w, invstd, n_rows)
            gx = ctx.launcher.grad_input(gy, x, mean_x, *(v.to(x.dtype) for v in coef))
        if ctx.needs_input_grad[1]:
            gw = (sdyx * invstd).to(x.dtype)
        if ctx.needs_input_grad[2]:
            gb = sdy.to(x.dtype)
        return gx, gw, gb, None, None, None, None, None


def batch_stats(
    launcher: Any,
    x: torch.Tensor,
    weight: Optional[torch.Tensor],
    bias: Optional[torch.Tensor],
    running_mean: Optional[torch.Tensor],
    running_var: Optional[torch.Tensor],
    factor: float,
    eps: float,
) -> tuple[torch.Tensor, ...]:
    """Batch statistics of ``x (M, C)`` by ``launcher.stats``; updates the running averages in place.

    Returns ``(mean, invstd, w, a, b)``, each ``(C,)`` float64, with ``y = (x - mean) a + b``.
    """
    n_rows = x.shape[0]
    shift = x[0].detach().double()
    s, q = launcher.stats(x, shift)  # (C,) float64 each
    mean = s / n_rows
    var = (q / n_rows - mean * mean).clamp_(min=0.0)
    mean += shift
    invstd = (var + eps).rsqrt()
    w = weight.detach().double() if weight is not None else torch.ones_like(mean)
    b = bias.detach().double() if bias is not None else torch.zeros_like(mean)
    with torch.no_grad():
        if running_mean is not None:
            running_mean.mul_(1 - factor).add_(mean.to(running_mean.dtype), alpha=factor)
        if running_var is not None:
            unbiased = var * (n_rows / (n_rows - 1))
            running_var.mul_(1 - factor).add_(unbiased.to(running_var.dtype), alpha=factor)
    return mean, invstd, w, invstd * w, b


def grad_coefficients(
    sdy: torch.Tensor, sdyx: torch.Tensor, w: torch.Tensor, invstd: torch.Tensor, n_rows: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(a, b, c)`` of ``dx = dy a + (x - mean) b + c`` from the sums ``sum dy``, ``sum dy (x - mean)`` (float64)."""
    a = w * invstd
    return a, -a * invstd * invstd * sdyx / n_rows, -a * sdy / n_rows


def register_batch_norm(launcher: Any, backend: str) -> None:
    """Register ``batch_norm.rows`` on ``backend`` with a launcher's passes."""

    @register("batch_norm.rows", backend)
    def batch_norm_rows(
        x: torch.Tensor,
        weight: Optional[torch.Tensor],
        bias: Optional[torch.Tensor],
        running_mean: Optional[torch.Tensor],
        running_var: Optional[torch.Tensor],
        factor: float,
        eps: float,
    ) -> torch.Tensor:
        if x.dim() != 2 or x.shape[0] < 2 or launcher.unsupported(x):  # torch's own checks and messages
            return batch_norm_rows_torch(x, weight, bias, running_mean, running_var, factor, eps)
        x = x.contiguous()
        return BatchNormRowsFunction.apply(x, weight, bias, running_mean, running_var, factor, eps, launcher)
