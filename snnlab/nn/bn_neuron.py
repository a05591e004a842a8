"""``batch_norm_neuron``: a batch norm module, then a neuron module (then a dropout mask), fused when training.

For the blocks ``Linear/Conv -> BatchNorm -> LIF (-> dropout)`` on time-major rows
``x (T, M, C)``: ``M = B`` for a Linear's ``(T, B, C)`` output, ``M = B H W`` for a channels-last
convolution map (``x.permute(0, 1, 3, 4, 2).reshape(T, B * H * W, C)`` is then a view). The
modules keep their parameters, buffers and state dicts; only the computation is fused. Example::

    bn, lif = snnlab.nn.BatchNorm1d(256), snnlab.nn.LIF(tau=10.0, detach_reset=True)
    mask = snnlab.nn.SeqDropout(0.4).sample_mask(h[0])        # (B, C) or None
    s = snnlab.nn.batch_norm_neuron(h, bn, lif, mask)           # h (T, B, C) -> spikes * mask (T, B, C)

In training mode, with running statistics and a neuron of kind ``if`` or ``lif`` (fixed leak,
multi-step, no stored membrane, no hooks on either module), this runs the op ``batch_norm.neuron``
(:mod:`snnlab.kernels.common.bn_neuron`): batch statistics over the ``T M`` rows, the running
averages and ``num_batches_tracked`` updated as the batch norm module would. Anything else (evaluation,
PLIF, ALIF, hooks, CUDA tensors) runs the modules one after the other, with the same result.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from snnlab.errors import ShapeError
from snnlab.kernels import BN_NEURON_KINDS, BatchNormArgs, dispatch, get_backend
from snnlab.nn.batch_norm import count_batch, train_rows
from snnlab.nn.layers import MaskMul
from snnlab.nn.neuron import SpikingNeuron

_BatchNorm = nn.modules.batchnorm._BatchNorm


def _hooked(module: nn.Module) -> bool:
    return bool(module._forward_hooks or module._forward_pre_hooks)


def fusable(x: torch.Tensor, bn: _BatchNorm, neuron: nn.Module) -> bool:
    """Whether :func:`batch_norm_neuron` runs the fused op for these modules and this input."""
    if not (bn.training and bn.track_running_stats and bn.running_mean is not None) or x.is_cuda:
        return False
    if not isinstance(neuron, SpikingNeuron) or neuron.kind not in BN_NEURON_KINDS or neuron.leak() is not None:
        return False
    plain = neuron.step_mode == "m" and not (neuron.store_v_seq or neuron.check_finite)
    return plain and not (_hooked(bn) or _hooked(neuron)) and neuron.backend != "torch"


def batch_norm_neuron(
    x: torch.Tensor, bn: _BatchNorm, neuron: nn.Module, mask: Optional[torch.Tensor] = None
) -> torch.Tensor:
    """``neuron(bn(x)) * mask`` on rows: ``x (T, M, C)``, ``mask (M, C)`` (one for all steps) or None.

    Args:
        x: time-major rows; the batch norm normalises each of the ``C`` channels over ``T M`` rows.
        bn: any ``BatchNorm1d`` / ``BatchNorm2d`` module with ``num_features = C``.
        neuron: a multi-step neuron module (fused for ``IF`` and ``LIF``).
        mask: dropout mask applied to the spikes of every step (already scaled by ``1 / (1 - p)``).

    Returns:
        ``(T, M, C)`` spikes (times the mask).
    """
    if x.dim() != 3 or x.shape[2] != bn.num_features:
        raise ShapeError(f"batch_norm_neuron: expected x (T, M, {bn.num_features}), got {tuple(x.shape)}")
    if not fusable(x, bn, neuron):
        return _composition(x, bn, neuron, mask)
    factor = count_batch(bn)
    args = BatchNormArgs(bn.weight, bn.bias, bn.running_mean, bn.running_var, factor, bn.eps)
    backend = get_backend(neuron.backend, x, op="batch_norm.neuron")
    return dispatch("batch_norm.neuron", backend, x, args, neuron.kind, neuron.params, neuron.surrogate, mask)


def _composition(x: torch.Tensor, bn: _BatchNorm, neuron: nn.Module, mask: Optional[torch.Tensor]) -> torch.Tensor:
    """The modules one after the other (what the fused op equals)."""
    T, M, C = x.shape
    rows = x.reshape(T * M, C)
    if bn.training and bn.track_running_stats and bn.running_mean is not None:
        y = train_rows(bn, rows)
    else:  # evaluation (running statistics), or batch statistics without running averages
        use_batch = bn.training or bn.running_mean is None
        stats = (None, None) if use_batch and not bn.track_running_stats else (bn.running_mean, bn.running_var)
        y = F.batch_norm(rows, *stats, bn.weight, bn.bias, use_batch, 0.0, bn.eps)
    s = neuron(y.reshape(T, M, C))  # (T, M, C)
    return s if mask is None else MaskMul.apply(s, mask)
