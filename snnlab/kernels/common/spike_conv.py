"""``conv2d.spikes``: a same-padded k x k convolution whose input is mostly zeros (spikes).

``y = conv2d(x, W, b, stride 1, padding k // 2)`` with ``x (N, C_in, H, W)`` channels-last,
``W (C_out, C_in, kh, kw)`` (odd kh, kw), ``y (N, C_out, H, W)``: the equation of
``torch.nn.functional.conv2d`` (the torch backend's kernel, the reference). On a channels-last
``x`` the pixels are the rows of a ``(N H W, C_in)`` matrix (a view, no copy). When the measured
density of ``x`` is at most ``max_density``, the fast backends work from its nonzeros:

    x  -> CSR rows (one per pixel): the compress of ``linear.spikes``
    y[p, :]        = b + sum_{t} sum_{c nonzero at pixel p + off_t} x[p + off_t, c] * W_t^T[c, :]
    dW_t^T[c, :]   = sum_{(q, c) nonzero} x[q, c] * dy[q - off_t, :]        (pixels inside the image)
    dx             = conv_transpose2d(dy, W, padding k // 2)                  (dense: dy has no zeros)

with ``t`` over the ``kh kw`` taps at offsets ``off_t = (dy - kh // 2, dx - kw // 2)`` and
``W_t^T (C_in, C_out)`` the tap's weights, so the forward and the weight gradient cost
``nnz kh kw C_out`` instead of ``N H W C_in kh kw C_out`` multiply-adds; zero padding is the
taps that fall outside the image. Above ``max_density``, or for any other layout, the call is
torch's convolution. The CSR rows replace ``x`` in what autograd saves.

A backend provides a *launcher* with ``compress(rows, max_density) -> CSR or None``,
``forward(csr, wt, shape) -> y rows (N H W, C_out)`` and ``weight_grad(csr, gy_rows, shape, C_in)
-> (kh kw, C_in, C_out)`` (``wt`` is ``W`` as ``(kh kw, C_in, C_out)``, ``shape`` is
``(N, H, W, kh, kw)``), and registers it with :func:`register_spike_conv`.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
import torch.nn.functional as F

from snnlab.kernels import SPIKE_MAX_DENSITY as MAX_DENSITY
from snnlab.kernels.registry import register


def check_args(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor]) -> None:
    """The contract every ``conv2d.spikes`` kernel checks."""
    if x.dim() != 4 or weight.dim() != 4 or x.shape[1] != weight.shape[1]:
        raise ValueError(
            f"conv2d.spikes: expected x (N, C_in, H, W) and weight (C_out, C_in, kh, kw), "
            f"got x {tuple(x.shape)}, weight {tuple(weight.shape)}"
        )
    if weight.shape[2] % 2 == 0 or weight.shape[3] % 2 == 0:
        raise ValueError(f"conv2d.spikes: the kernel must have odd sides (same padding), got {tuple(weight.shape[2:])}")
    if bias is not None and bias.shape != weight.shape[:1]:
        raise ValueError(f"conv2d.spikes: bias must be ({weight.shape[0]},), got {tuple(bias.shape)}")


def same_padding(weight: torch.Tensor) -> tuple[int, int]:
    """The padding that keeps the image size for ``weight (C_out, C_in, kh, kw)`` with odd sides."""
    return weight.shape[2] // 2, weight.shape[3] // 2


def tap_weights(weight: torch.Tensor) -> torch.Tensor:
    """``weight (C_out, C_in, kh, kw)`` as the kernels read it: ``(kh kw, C_in, C_out)``, detached."""
    c_out, c_in, kh, kw = weight.shape
    return weight.detach().permute(2, 3, 1, 0).reshape(kh * kw, c_in, c_out).contiguous()


def weight_from_taps(gwt: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """A ``(kh kw, C_in, C_out)`` weight gradient back in the layout of a weight of ``shape``."""
    c_out, c_in, kh, kw = shape
    return gwt.view(kh, kw, c_in, c_out).permute(3, 2, 0, 1).contiguous()


@register("conv2d.spikes", "torch")
def spike_conv_torch(
    x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None, max_density: float = MAX_DENSITY
) -> torch.Tensor:
    """The reference: torch's ``conv2d`` with stride 1 and same padding (``max_density`` is ignored)."""
    check_args(x, weight, bias)
    return F.conv2d(x, weight, bias, padding=same_padding(weight))


def pixel_rows(x: torch.Tensor) -> torch.Tensor:
    """The ``(N H W, C)`` view of a channels-last ``x (N, C, H, W)``."""
    n, c, h, w = x.shape
    return x.permute(0, 2, 3, 1).view(n * h * w, c)


class SpikeConvFunction(torch.autograd.Function):
    """Autograd of the convolution from the CSR rows of ``x`` (see the module docstring)."""

    @staticmethod
    def forward(ctx: Any, x, weight, bias, csr, launcher):  # noqa: D102
        n, c_in, h, w = x.shape
        c_out, _, kh, kw = weight.shape
        ctx.csr, ctx.launcher, ctx.shape, ctx.x_dtype = csr, launcher, (n, h, w, kh, kw), x.dtype
        ctx.save_for_backward(weight)
        y = launcher.forward(csr, tap_weights(weight), ctx.shape)  # (N H W, C_out)
        if bias is not None:
            y.add_(bias.detach())
        return y.view(n, h, w, c_out).permute(0, 3, 1, 2)  # (N, C_out, H, W), channels-last

    @staticmethod
    def backward(ctx: Any, gy: torch.Tensor):  # noqa: D102
        (weight,) = ctx.saved_tensors
        n, h, w, kh, kw = ctx.shape
        gy = gy.contiguous(memory_format=torch.channels_last)  # (N, C_out, H, W)
        if torch.is_grad_enabled():  # double backward (create_graph): torch's differentiable ops
            x = _rows_of(ctx.csr).view(n, h, w, -1).permute(0, 3, 1, 2)  # channels-last
            return (*dense_grads(ctx, x, gy, weight), None, None)
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:  # dense
            gx = F.conv_transpose2d(gy, weight, padding=(kh // 2, kw // 2))
        if ctx.needs_input_grad[1]:
            gwt = ctx.launcher.weight_grad(ctx.csr, pixel_rows(gy), ctx.shape, weight.shape[1])  # (taps, C_in, C_out)
            gw = weight_from_taps(gwt, weight.shape)
        if ctx.needs_input_grad[2]:
            gb = gy.sum((0, 2, 3))
        return gx, gw, gb, None, None


def _rows_of(csr: Any) -> torch.Tensor:
    """The dense ``(N H W, C_in)`` rows of a CSR."""
    rows = csr.val.new_zeros(csr.shape)
    rows[torch.repeat_interleave(torch.arange(csr.shape[0], device=rows.device), csr.indptr.diff()), csr.idx.long()] = (
        csr.val
    )
    return rows


def dense_grads(ctx: Any, x: torch.Tensor, gy: torch.Tensor, weight: torch.Tensor) -> tuple:
    """Input, weight and bias gradients through torch's differentiable convolution ops (double backward)
    on ``x (N, C_in, H, W)`` rebuilt from what the forward saved; ``ctx.needs_input_grad`` picks them."""
    padding = same_padding(weight)
    with torch.enable_grad():
        y = F.conv2d(x, weight, padding=padding)
        gw = torch.autograd.grad(y, weight, gy, create_graph=True)[0] if ctx.needs_input_grad[1] else None
    gx = F.conv_transpose2d(gy, weight, padding=padding) if ctx.needs_input_grad[0] else None
    gb = gy.sum((0, 2, 3)) if ctx.needs_input_grad[2] else None
    return gx, gw, gb


def register_spike_conv(launcher: Any, backend: str) -> None:
    """Register ``conv2d.spikes`` on ``backend`` with a launcher's CSR kernels."""

    @register("conv2d.spikes", backend)
    def spike_conv(
        x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None, max_density: float = MAX_DENSITY
    ) -> torch.Tensor:
        check_args(x, weight, bias)
        channels_last = x.is_contiguous(memory_format=torch.channels_last)
        if not channels_last or x.dtype != weight.dtype or x.numel() == 0 or launcher.unsupported(x):
            return F.conv2d(x, weight, bias, padding=same_padding(weight))
        csr = launcher.compress(pixel_rows(x.detach()), float(max_density))
        if csr is None:  # too dense: torch's convolution
            return F.conv2d(x, weight, bias, padding=same_padding(weight))
        return SpikeConvFunction.apply(x, weight, bias, csr, launcher)
