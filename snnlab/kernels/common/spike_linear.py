"""``linear.spikes``: a linear layer whose input is mostly zeros (spikes), computed from its nonzeros.

``y = x W^T + b`` with ``x (M, K)``, ``W (N, K)``, ``y (M, N)``: the same equation as
``torch.nn.functional.linear`` (the torch backend's kernel, the reference). When the measured
density of ``x`` (nonzeros / ``M K``) is at most ``max_density``, the fast backends gather:

    x  -> CSR rows: indptr (M + 1), idx (nnz), val (nnz)         (one pass over x)
    y[m, :]    = b + sum_{p in row m} val[p] * W^T[idx[p], :]     (forward: nnz rows of W^T)
    dW^T[k, :] = sum_{(m, k) nonzero} x[m, k] * dy[m, :]         (weight gradient)
    dx         = dy W                                             (dense GEMM: dy has no zeros)

so the forward and the weight gradient cost ``nnz * N`` instead of ``M K N`` multiply-adds. Above
``max_density`` the call is dense GEMMs (torch), as the reference. Binary spikes, spikes scaled
by dropout and small integer counts are all exact: the values are kept, not just the positions.
The CSR rows replace ``x`` in what autograd saves (less memory at low density).

A backend provides a *launcher* with ``compress(x, max_density) -> CSR or None`` (None: too
dense), ``forward(csr, wt) -> y``, ``weight_grad(csr, gy, K) -> gwt (K, N)`` and
``input_grad(gy, weight) -> gx (M, K)``, and registers it with :func:`register_spike_linear`.
The ``(M, N)`` and ``(M, K)`` results of a CPU launcher come from :mod:`snnlab.kernels.pool`
(a training step reuses them instead of faulting in fresh pages).
"""

from __future__ import annotations

from typing import Any, NamedTuple, Optional

import torch
import torch.nn.functional as F

from snnlab.kernels import SPIKE_MAX_DENSITY as MAX_DENSITY
from snnlab.kernels import pool
from snnlab.kernels.registry import register


class CSR(NamedTuple):
    """Compressed rows of ``x (M, K)``: row ``m`` holds ``val[indptr[m]:indptr[m+1]]`` at columns ``idx[...]``."""

    indptr: torch.Tensor  # (M + 1,) int64
    idx: torch.Tensor  # (nnz,) int32
    val: torch.Tensor  # (nnz,) x's dtype
    shape: tuple[int, int]  # (M, K)


def check_args(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor]) -> None:
    """The contract every ``linear.spikes`` kernel checks."""
    if x.dim() != 2 or weight.dim() != 2 or x.shape[1] != weight.shape[1]:
        raise ValueError(
            f"linear.spikes: expected x (M, K) and weight (N, K), got x {tuple(x.shape)}, weight {tuple(weight.shape)}"
        )
    if bias is not None and bias.shape != weight.shape[:1]:
        raise ValueError(f"linear.spikes: bias must be ({weight.shape[0]},), got {tuple(bias.shape)}")


@register("linear.spikes", "torch")
def spike_linear_torch(
    x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None, max_density: float = MAX_DENSITY
) -> torch.Tensor:
    """The reference: a dense ``x W^T + b`` (``max_density`` is ignored)."""
    check_args(x, weight, bias)
    return F.linear(x, weight, bias)


class SpikeLinearFunction(torch.autograd.Function):
    """Autograd of ``x W^T + b`` from the CSR rows of ``x`` (the dense path when ``x`` is too dense)."""

    @staticmethod
    def forward(ctx: Any, x, weight, bias, launcher, max_density):  # noqa: D102
        csr = launcher.compress(x.detach(), max_density)
        ctx.launcher, ctx.dense = launcher, csr is None
        if csr is None:  # too dense: the GEMM of the reference
            ctx.save_for_backward(x, weight)
            return F.linear(x.detach(), weight.detach(), None if bias is None else bias.detach())
        ctx.csr = csr
        ctx.save_for_backward(weight)
        y = launcher.forward(csr, weight.detach().t().contiguous())  # (M, N)
        return y if bias is None else y.add_(bias.detach())

    @staticmethod
    def backward(ctx: Any, gy: torch.Tensor):  # noqa: D102
        gy = gy.contiguous()
        weight = ctx.saved_tensors[-1]
        gx = None
        if ctx.needs_input_grad[0] and torch.is_grad_enabled():  # double backward: differentiable
            gx = gy @ weight
        elif ctx.needs_input_grad[0]:
            gx = ctx.launcher.input_grad(gy, weight.detach())  # (M, K): dense
        gw = gb = None
        if ctx.needs_input_grad[1]:
            if ctx.dense:
                gw = gy.t() @ ctx.saved_tensors[0]
            else:
                gw = ctx.launcher.weight_grad(ctx.csr, gy, weight.shape[1]).t()  # (N, K)
        if ctx.needs_input_grad[2]:
            gb = gy.sum(0)
        return gx, gw, gb, None, None


def register_spike_linear(launcher: Any, backend: str) -> None:
    """Register ``linear.spikes`` on ``backend`` with a launcher's CSR kernels."""

    @register("linear.spikes", backend)
    def spike_linear(
        x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None, max_density: float = MAX_DENSITY
    ) -> torch.Tensor:
        check_args(x, weight, bias)
        x = x.contiguous()
        if x.dtype != weight.dtype or x.numel() == 0 or launcher.unsupported(x):
            return F.linear(x, weight, bias)
        return SpikeLinearFunction.apply(x, weight, bias, launcher, float(max_density))


def input_grad_torch(gy: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``gy (M, N) @ weight (N, K)`` into a reused buffer (no fresh pages per training step)."""
    return torch.mm(gy, weight, out=pool.empty((gy.shape[0], weight.shape[1]), gy.dtype, gy.device))


def compress_torch(x: torch.Tensor, max_density: float) -> Optional[CSR]:
    """CSR rows of ``x (M, K)`` with torch ops (any device), or None above ``max_density``."""
    mask = x != 0
    counts = mask.sum(1)  # (M,)
    nnz = int(counts.sum())
    if nnz > max_density * x.numel():
        return None
    indptr = torch.zeros(x.shape[0] + 1, dtype=torch.int64, device=x.device)
    torch.cumsum(counts, 0, out=indptr[1:])
    idx = mask.nonzero()[:, 1].to(torch.int32)  # row-major order: rows ascending, columns ascending
    return CSR(indptr, idx, x[mask], (x.shape[0], x.shape[1]))
