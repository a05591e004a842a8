"""WKV code shared by the numba (CPU) and numba-cuda kernels; registers nothing.

The scan's "minus infinity", the compute dtype rule and the autograd Function that wraps a
backend's launcher.
"""

from __future__ import annotations

import torch

NEG = -1e38  # the scan's "minus infinity" (finite, so differences stay finite; fits float32)


def compute_dtype(*tensors: torch.Tensor) -> torch.dtype:
    """float64 stays float64; everything else runs in float32."""
    return torch.float64 if any(t.dtype == torch.float64 for t in tensors) else torch.float32


class WKVFunction(torch.autograd.Function):
    """Autograd wrapper of a launcher (``kernels/numba/wkv.py`` or ``kernels/cuda/wkv.py``).

    ``launcher.forward(w, u, k, v) -> (y, extras)``: ``extras`` is a tuple of tensors the backward
    needs besides the inputs (checkpoints of the scan); ``launcher.backward(w, u, k, v, gy, *extras)
    -> (gk, gv, gw, gu)``.
    """

    @staticmethod
    def forward(ctx, w, u, k, v, launcher):  # noqa: D102
        dtype = compute_dtype(w, u, k, v)
        args = [t.detach().to(dtype).contiguous() for t in (w, u, k, v)]
        y, extras = launcher.forward(*args)
        ctx.save_for_backward(*args, *extras)
        ctx.launcher, ctx.dtypes = launcher, (w.dtype, u.dtype, k.dtype, v.dtype)
        return y.to(torch.promote_types(k.dtype, v.dtype))

    @staticmethod
    def backward(ctx, gy):  # noqa: D102
        w, u, k, v, *extras = ctx.saved_tensors
        gk, gv, gw, gu = ctx.launcher.backward(w, u, k, v, gy.to(k.dtype).contiguous(), *extras)
        dw, du, dk, dv = ctx.dtypes
        return gw.to(dw), gu.to(du), gk.to(dk), gv.to(dv), None
