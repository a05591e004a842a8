"""``conv2d.binary``: a same-padded k x k (1x1 included) convolution of a {0, 1} input by lookup tables.

``y = conv2d(x, W, b, stride 1, padding k // 2)`` with ``x (N, C_in, H, W)`` channels-last,
``W (C_out, C_in, kh, kw)`` (odd kh, kw), ``y (N, C_out, H, W)``: the equation of
``torch.nn.functional.conv2d`` (the torch backend's kernel, the reference). On a channels-last ``x``
whose values are all 0 or 1 (spikes), the fast backends work from the bits instead of the nonzeros,
so the cost does not depend on the density:

    x   -> bits: byte g of pixel p holds x[p, 8 g .. 8 g + 7]            (one pass over x)
    T_tg[b, :] = sum_{j in b} W_t^T[8 g + j, :]                             (256 subset sums per tap t, group g)
    y[p, :]    = b + sum_t sum_g T_tg[byte(p + off_t, g), :]               (taps inside the image)
    dx         = conv_transpose2d(dy, W)                                   (dense: dy has no zeros)
    k x k: U_q[b, :] = sum_{j in b} dy[q + j, :]    (8 output pixels q .. q + 7 of an image row)
           dW_t^T[c, :] += U_q[bits of x[q + j + off_t, c], j = 0..7]      (one table row per tap and channel)
    1x1:   dW = dy^T x, x rebuilt from the bits                            (a GEMM)

so the forward adds ``kh kw C_in / 8`` table rows per output pixel instead of ``kh kw C_in`` weight
rows (dense) or ``density kh kw C_in`` (``conv2d.spikes``); building the tables costs ``256 C_out``
adds per tap and group; the k x k weight gradient adds ``kh kw C_in + 256`` rows per 8 output pixels
instead of ``8 kh kw C_in``. Exact up to the order of float summation. The bits replace ``x`` in what
autograd saves (1 bit per value). Inputs that are not binary or not channels-last run torch's
convolution; a k x k forward whose tables would exceed :data:`MAX_TABLE_BYTES` (they must stay
cache-resident to pay) is torch's, its weight gradient still the tables' (images up to
:data:`MAX_LOOKUP_WIDTH` pixels wide); a 1x1 one runs torch's convolution.

Every kernel returns ``(y, density)``: the share of nonzero inputs when ``x`` is binary and the
kernel measured it, else NaN, so that a layer can route the next calls to the CSR kernels (low
density, or values other than 0 and 1).

A backend provides a *launcher* with ``unsupported(x)``, ``pack(rows) -> (bits, nnz, binary)``,
``forward(bits, wt, shape) -> y rows (N H W, C_out)`` (``wt`` is ``W`` as ``(kh kw, C_in, C_out)``,
``shape`` is ``(N, H, W, kh, kw)``), ``weight_grad(bits, gy rows, shape, C_in) -> (kh kw, C_in, C_out)``
and ``unpack(bits, C_in, dtype) -> rows``, and registers it with
:func:`register_bit_conv`.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import torch
import torch.nn.functional as F

from snnlab.kernels import pool
from snnlab.kernels.common.spike_conv import (
    check_args,
    dense_grads,
    pixel_rows,
    same_padding,
    tap_weights,
    weight_from_taps,
)
from snnlab.kernels.registry import register

BITS = 8  # input channels per byte (and per table)
MAX_TABLE_BYTES = 12 << 20  # larger tables spill from the last-level cache (128->128 3x3 at 8 px: 18.9 MB, slower)
MAX_LOOKUP_WIDTH = 64  # k x k weight gradient by tables: a row of the image is one 64-bit mask per channel


@register("conv2d.binary", "torch")
def bit_conv_torch(
    x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None
) -> tuple[torch.Tensor, float]:
    """The reference: torch's ``conv2d`` (stride 1, same padding) and the share of nonzero inputs of a
    binary ``x`` (NaN for any other ``x``)."""
    check_args(x, weight, bias)
    binary = bool(((x == 0) | (x == 1)).all())
    density = float((x != 0).sum()) / max(1, x.numel()) if binary else math.nan
    return F.conv2d(x, weight, bias, padding=same_padding(weight)), density


def table_bytes(weight: torch.Tensor) -> int:
    """Bytes of the lookup tables of ``weight (C_out, C_in, kh, kw)``."""
    c_out, c_in, kh, kw = weight.shape
    return kh * kw * -(-c_in // BITS) * 256 * c_out * weight.element_size()


class BitConvFunction(torch.autograd.Function):
    """Autograd of the convolution from the bits of ``x`` (see the module docstring)."""

    @staticmethod
    def forward(ctx: Any, x, weight, bias, bits, launcher):  # noqa: D102
        n, c_in, h, w = x.shape
        c_out, _, kh, kw = weight.shape
        ctx.bits, ctx.launcher, ctx.shape, ctx.x_dtype = bits, launcher, (n, h, w, kh, kw), x.dtype
        ctx.save_for_backward(weight)
        if table_bytes(weight) > MAX_TABLE_BYTES:  # torch's forward; the backward still works from the bits
            b = None if bias is None else bias.detach()
            return F.conv2d(x.detach(), weight.detach(), b, padding=(kh // 2, kw // 2))
        y = launcher.forward(bits, tap_weights(weight), ctx.shape)  # (N H W, C_out)
        if bias is not None:
            y.add_(bias.detach())
        return y.view(n, h, w, c_out).permute(0, 3, 1, 2)  # (N, C_out, H, W), channels-last

    @staticmethod
    def backward(ctx: Any, gy: torch.Tensor):  # noqa: D102
        (weight,) = ctx.saved_tensors
        n, h, w, kh, kw = ctx.shape
        c_in = weight.shape[1]
        rows = ctx.launcher.unpack(ctx.bits, c_in, ctx.x_dtype)  # (N H W, C_in) of zeros and ones
        x = rows.view(n, h, w, c_in).permute(0, 3, 1, 2)  # channels-last
        gy = gy.contiguous(memory_format=torch.channels_last)  # (N, C_out, H, W)
        if torch.is_grad_enabled():  # double backward (create_graph): torch's differentiable ops
            return (*dense_grads(ctx, x, gy, weight), None, None)
        gb = gy.sum((0, 2, 3)) if ctx.needs_input_grad[2] else None
        if kh == kw == 1:  # GEMMs on the pixel rows, the input gradient into a reused buffer
            gx, gw = _pointwise_grads(ctx, pixel_rows(gy), rows, weight)
            return None if gx is None else gx.view(n, h, w, c_in).permute(0, 3, 1, 2), gw, gb, None, None
        lookup_gw = ctx.needs_input_grad[1] and w <= MAX_LOOKUP_WIDTH
        mask = [ctx.needs_input_grad[0], ctx.needs_input_grad[1] and not lookup_gw, False]
        gx = gw = None
        if mask[0] or mask[1]:
            gx, gw, _ = torch.ops.aten.convolution_backward(
                gy, x, weight, None, [1, 1], [kh // 2, kw // 2], [1, 1], False, [0, 0], 1, mask
            )
        if lookup_gw:  # (taps, C_in, C_out) -> (C_out, C_in, kh, kw)
            gwt = ctx.launcher.weight_grad(ctx.bits, pixel_rows(gy), ctx.shape, c_in)
            gw = weight_from_taps(gwt, weight.shape)
        return gx, gw, gb, None, None


def _pointwise_grads(ctx: Any, gy: torch.Tensor, rows: torch.Tensor, weight: torch.Tensor) -> tuple:
    """Input rows ``(M, C_in)`` and weight ``(C_out, C_in, 1, 1)`` gradients of a 1x1 convolution."""
    w2 = weight.view(weight.shape[0], weight.shape[1])  # (C_out, C_in)
    gx = gw = None
    if ctx.needs_input_grad[0]:
        gx = torch.mm(gy, w2, out=pool.empty((gy.shape[0], w2.shape[1]), gy.dtype, gy.device))
    if ctx.needs_input_grad[1]:
        gw = torch.mm(gy.t(), rows).view_as(weight)
    return gx, gw


def register_bit_conv(launcher: Any, backend: str) -> None:
    """Register ``conv2d.binary`` on ``backend`` with a launcher's lookup-table kernels."""

    @register("conv2d.binary", backend)
    def bit_conv(
        x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None
    ) -> tuple[torch.Tensor, float]:
        check_args(x, weight, bias)
        channels_last = x.is_contiguous(memory_format=torch.channels_last)
        usable = channels_last and x.dtype == weight.dtype and x.numel() > 0 and not launcher.unsupported(x)
        pointwise = weight.shape[2] == weight.shape[3] == 1
        if not usable or (pointwise and table_bytes(weight) > MAX_TABLE_BYTES):
            return F.conv2d(x, weight, bias, padding=same_padding(weight)), math.nan
        bits, nnz, binary = launcher.pack(pixel_rows(x.detach()))
        if not binary:
            return F.conv2d(x, weight, bias, padding=same_padding(weight)), math.nan
        return BitConvFunction.apply(x, weight, bias, bits, launcher), nnz / x.numel()
