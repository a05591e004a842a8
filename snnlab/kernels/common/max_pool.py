"""``max_pool2d.rows``: 2-D max pooling of a channels-last map, with torch's argmax and gradient routing.

``y[n, c, i, j] = max_{(u, v) in window(i, j)} x[n, c, u, v]`` over the ``k x k`` window at stride
``s`` with ``p`` implicit ``-inf`` padding (dilation 1, floor mode): the equation of
``torch.nn.functional.max_pool2d`` (the torch backend's kernel, the reference). The argmax is
torch's: the first maximum in row-major window order (``v > max``), a NaN wins (later NaNs
replace earlier ones), and a window without a larger value keeps its first position inside the
image. The backward adds ``dy`` to the argmax of each window (overlapping windows accumulate, in
output order), as torch's CPU kernel does.

A backend provides a *launcher* with ``forward(x_nhwc, k, s, p) -> (y_nhwc, arg)`` (``arg`` the
window position of the maximum, any integer type) and ``backward(gy_nhwc, arg, shape, k, s, p) ->
gx_nhwc`` on ``(N, H, W, C)`` arrays, and registers it with :func:`register_max_pool`.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from snnlab.kernels.registry import register


@register("max_pool2d.rows", "torch")
def max_pool_torch(x: torch.Tensor, kernel_size: int, stride: int, padding: int) -> torch.Tensor:
    """The reference: torch's ``max_pool2d`` (dilation 1, floor mode)."""
    return F.max_pool2d(x, kernel_size, stride, padding)


def _nhwc(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 2, 3, 1)  # (N, C, H, W) channels-last -> contiguous (N, H, W, C)


class MaxPoolFunction(torch.autograd.Function):
    """Autograd of the pooling: saves the window position of each maximum (no input)."""

    @staticmethod
    def forward(ctx: Any, x, k, s, p, launcher):  # noqa: D102
        y, arg = launcher.forward(_nhwc(x.detach()), k, s, p)  # (N, Ho, Wo, C)
        ctx.launcher, ctx.geometry, ctx.shape = launcher, (k, s, p), tuple(x.shape)
        ctx.save_for_backward(arg)
        return y.permute(0, 3, 1, 2)  # (N, C, Ho, Wo), channels-last

    @staticmethod
    def backward(ctx: Any, gy: torch.Tensor):  # noqa: D102
        (arg,) = ctx.saved_tensors
        n, c, h, w = ctx.shape
        if torch.is_grad_enabled():  # double backward (create_graph): torch's differentiable routing
            like = gy.new_empty(ctx.shape).contiguous(memory_format=torch.channels_last)
            idx = torch_indices(arg, ctx.shape, *ctx.geometry)
            k, s, p = ctx.geometry
            gx = torch.ops.aten.max_pool2d_with_indices_backward(gy, like, [k, k], [s, s], [p, p], [1, 1], False, idx)
            return gx, None, None, None, None
        gy = _nhwc(gy.contiguous(memory_format=torch.channels_last)).contiguous()
        gx = ctx.launcher.backward(gy, arg, (n, h, w, c), *ctx.geometry)  # (N, H, W, C)
        return gx.permute(0, 3, 1, 2), None, None, None, None


def register_max_pool(launcher: Any, backend: str) -> None:
    """Register ``max_pool2d.rows`` on ``backend`` with a launcher's kernels."""

    @register("max_pool2d.rows", backend)
    def max_pool(x: torch.Tensor, kernel_size: int, stride: int, padding: int) -> torch.Tensor:
        plain = x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and x.numel() > 0
        if not plain or launcher.unsupported(x):
            return F.max_pool2d(x, kernel_size, stride, padding)
        return MaxPoolFunction.apply(x, int(kernel_size), int(stride), int(padding), launcher)


def torch_indices(arg: torch.Tensor, shape: tuple[int, int, int, int], k: int, s: int, p: int) -> torch.Tensor:
    """torch's flat argmax indices ``u W + v`` ``(N, C, Ho, Wo)`` from the window positions ``arg (N, Ho, Wo, C)``."""
    _, _, _, w = shape
    ho, wo = arg.shape[1:3]
    a = arg.long()
    oy = torch.arange(ho, device=arg.device).view(1, ho, 1, 1) * s - p
    ox = torch.arange(wo, device=arg.device).view(1, 1, wo, 1) * s - p
    return ((oy + a // k) * w + ox + a % k).permute(0, 3, 1, 2)
