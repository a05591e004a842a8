"""``batch_norm.neuron``: training-mode batch norm -> spiking neuron (-> dropout mask), one op.

On time-major rows ``x (T, M, C)`` (``M = B`` for a Linear's output, ``M = B H W`` for a
channels-last convolution map) with batch statistics over the ``T M`` rows of each channel ``c``::

    y[t, m, c]   = (x[t, m, c] - mean[c]) invstd[c] w[c] + b[c]       (batch_norm.rows, training)
    s[:, m, c]   = neuron(y[:, m, c])                                  (neuron.<kind> from rest, over T)
    out[t, m, c] = s[t, m, c] mask[m, c]                               (optional: one mask for all steps)

The torch backend's kernel is exactly that composition (the reference): ``F.batch_norm`` on the
``(T M, C)`` rows, the torch neuron op, a product with the mask. The running statistics are
updated as ``batch_norm.rows`` does (:func:`snnlab.kernels.common.batch_norm.batch_stats`).
Kinds: the spiking members of the leaky family without a learned leak (``if``, ``lif``).

A fast backend fuses it (:class:`BatchNormNeuronFunction`): forward is one statistics pass over
``x`` and one pass that normalises, integrates and masks (``y`` is never stored; the neuron's
pre-reset membrane ``h`` is saved, as the fused neuron op saves it); backward is one reverse-time
pass that also sums ``dy`` and ``dy (x - mean)`` per channel, then one pass for ``dx``. Its
*launcher* provides ``bn`` (a ``batch_norm.rows`` launcher: ``stats``, ``grad_input``),
``forward(plan, x, mean, a, b, mask) -> (out, h)`` and ``backward(plan, g, h, x, mean, mask) ->
(dy, sum dy, sum dy (x - mean))``; :func:`register_batch_norm_neuron` registers it.

Call (``snnlab.nn.batch_norm_neuron`` does this for modules)::

    out = dispatch("batch_norm.neuron", backend, x, BatchNormArgs(w, b, rm, rv, 0.1, 1e-5),
                   "lif", LIFParams(...), surrogate, mask)     # x (T, M, C), mask (M, C) or None
"""

from __future__ import annotations

from typing import Any, NamedTuple, Optional

import torch
import torch.nn.functional as F

from snnlab.errors import ShapeError
from snnlab.functional.neuron import KINDS, NeuronParams, initial_state
from snnlab.functional.surrogate import Surrogate
from snnlab.kernels import BN_NEURON_KINDS, BatchNormArgs
from snnlab.kernels.common.batch_norm import batch_stats, grad_coefficients
from snnlab.kernels.registry import dispatch, register

FUSED_KINDS = BN_NEURON_KINDS


def check_args(x: torch.Tensor, bn: BatchNormArgs, kind: str, mask: Optional[torch.Tensor]) -> None:
    """The contract of every ``batch_norm.neuron`` kernel (shapes and kind)."""
    if kind not in FUSED_KINDS:
        raise ValueError(f"batch_norm.neuron: kind must be one of {FUSED_KINDS}, got {kind!r}")
    if x.dim() != 3 or x.shape[0] * x.shape[1] < 2:
        raise ShapeError(f"batch_norm.neuron: expected x (T, M, C) with T M >= 2 rows, got {tuple(x.shape)}")
    for name, v in (("weight", bn.weight), ("bias", bn.bias), ("running_mean", bn.running_mean)):
        if v is not None and tuple(v.shape) != (x.shape[2],):
            raise ShapeError(f"batch_norm.neuron: {name} must be ({x.shape[2]},), got {tuple(v.shape)}")
    if mask is not None and tuple(mask.shape) != tuple(x.shape[1:]):
        raise ShapeError(f"batch_norm.neuron: mask must be {tuple(x.shape[1:])} (M, C), got {tuple(mask.shape)}")


@register("batch_norm.neuron", "torch")
def batch_norm_neuron_torch(
    x: torch.Tensor,
    bn: BatchNormArgs,
    kind: str,
    p: NeuronParams,
    surrogate: Surrogate,
    mask: Optional[torch.Tensor] = None,
    neuron_backend: str = "torch",
) -> torch.Tensor:
    """The reference composition: ``(T, M, C)`` -> ``(T, M, C)`` (``neuron_backend``: the neuron op's backend)."""
    check_args(x, bn, kind, mask)
    T, M, C = x.shape
    y = F.batch_norm(x.reshape(T * M, C), bn.running_mean, bn.running_var, bn.weight, bn.bias, True, bn.factor, bn.eps)
    seq = y.reshape(T, M * C)
    state = initial_state(kind, p, seq[0])
    out = dispatch(f"neuron.{kind}", neuron_backend, seq, state, p, surrogate)[0].reshape(T, M, C)
    return out if mask is None else out * mask


class Plan(NamedTuple):
    """What a fused launch needs besides the tensors."""

    P: tuple  # neuron scalars in the compute dtype (snnlab.kernels.common.equations indices)
    F: tuple  # neuron switches
    surrogate: Surrogate
    rest: float  # the resting membrane every sequence starts from


class BatchNormNeuronFunction(torch.autograd.Function):
    """Fused forward and backward of ``batch_norm.neuron`` from a launcher's passes."""

    @staticmethod
    def forward(ctx: Any, x, weight, bias, mask, bn, plan, launcher):  # noqa: D102
        T, M, C = x.shape
        rows = x.view(T * M, C)
        mean, invstd, w, a, b = batch_stats(launcher.bn, rows, weight, bias, *bn[2:])
        cast = [v.to(x.dtype) for v in (mean, a, b)]
        out, h = launcher.forward(plan, x, *cast, mask)  # (T, M, C) each
        ctx.launcher, ctx.plan = launcher, plan
        ctx.save_for_backward(x, h, mask, mean, invstd, w)
        return out

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor):  # noqa: D102
        x, h, mask, mean, invstd, w = ctx.saved_tensors
        T, M, C = x.shape
        mean_x = mean.to(x.dtype)
        gy, sdy, sdyx = ctx.launcher.backward(ctx.plan, g.contiguous(), h, x, mean_x, mask)  # (T, M, C), (C,) x2
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            coef = grad_coefficients(sdy, sdyx, w, invstd, T * M)
            rows = (gy.view(T * M, C), x.view(T * M, C), mean_x)
            gx = ctx.launcher.bn.grad_input(*rows, *(v.to(x.dtype) for v in coef)).view(T, M, C)
        if ctx.needs_input_grad[1]:
            gw = (sdyx * invstd).to(x.dtype)
        if ctx.needs_input_grad[2]:
            gb = sdy.to(x.dtype)
        return gx, gw, gb, None, None, None, None


def make_plan(kind: str, p: NeuronParams, surrogate: Surrogate, dtype: torch.dtype) -> Plan:
    """The neuron's scalars and switches as the fused neuron kernels pack them (training: ``h`` saved)."""
    from snnlab.kernels.common.fused import pack_flags, pack_params

    P = pack_params(kind, p, None, dtype)
    return Plan(P, pack_flags(kind, p, True, False), surrogate, float(KINDS.get(kind).rest(p)[0]))


def register_batch_norm_neuron(launcher: Any, backend: str) -> None:
    """Register ``batch_norm.neuron`` on ``backend``: fused while training, else the reference composition."""

    @register("batch_norm.neuron", backend)
    def batch_norm_neuron(
        x: torch.Tensor,
        bn: BatchNormArgs,
        kind: str,
        p: NeuronParams,
        surrogate: Surrogate,
        mask: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        check_args(x, bn, kind, mask)
        train = torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (x, bn.weight, bn.bias))
        if not train or launcher.unsupported(x) or (mask is not None and mask.dtype != x.dtype):
            return batch_norm_neuron_torch(x, bn, kind, p, surrogate, mask, neuron_backend=backend)
        plan = make_plan(kind, p, surrogate, x.dtype)
        mask = mask.contiguous() if mask is not None else None
        return BatchNormNeuronFunction.apply(x.contiguous(), bn.weight, bn.bias, mask, bn, plan, launcher)
