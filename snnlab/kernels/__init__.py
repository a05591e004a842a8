"""Fast paths of :mod:`snnlab.functional` ops behind one registry.

Op names: ``neuron.<kind>`` for every kind of :data:`snnlab.functional.KINDS` (if, lif, alif,
cuba_lif, li), ``delay.taps``, ``delay.dense``, ``linear.spikes`` (a Linear computed from the
nonzeros of a spike input, :mod:`snnlab.kernels.common.spike_linear`) and ``conv2d.spikes`` (its
same-padded k x k convolution, :mod:`snnlab.kernels.common.spike_conv`), ``conv2d.binary`` (the same
convolution of a {0, 1} input by lookup tables of weight-row subset sums, :mod:`snnlab.kernels.common.bit_conv`); ``max_pool2d.rows`` (max pooling of
a channels-last map with torch's argmax, :mod:`snnlab.kernels.common.max_pool`). Every neuron kernel takes
``(x_seq (T, M), state, params, surrogate, k=None, return_v=False)`` and returns
``(out_seq (T, M), final_state, v_seq or None)``: ``out`` is spikes (membrane for ``li``),
``state`` a NamedTuple of (M,) tensors, ``k`` an optional 0-d tensor ``1/tau`` (PLIF), and
``v_seq`` the post-reset membrane when ``return_v``.
``batch_norm.neuron`` is training-mode batch norm -> IF/LIF -> dropout mask fused on time-major
rows (:mod:`snnlab.kernels.common.bn_neuron`), its batch norm passed as :class:`BatchNormArgs`.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Optional

from snnlab.kernels.registry import (
    BACKENDS,
    KERNELS,
    add_backend,
    availability,
    backends,
    dispatch,
    get_backend,
    has_kernel,
    register,
)

# linear.spikes: above this share of nonzero inputs the dense GEMM is faster (benchmarks/README.md)
SPIKE_MAX_DENSITY = 0.25
BN_NEURON_KINDS = ("if", "lif")  # batch_norm.neuron: spiking, leaky family, fixed leak


class BatchNormArgs(NamedTuple):
    """A batch norm's tensors and settings for ``batch_norm.neuron`` (see ``snnlab.nn.batch_norm_neuron``)."""

    weight: Optional[Any]  # (C,) tensor
    bias: Optional[Any]  # (C,) tensor
    running_mean: Optional[Any]  # (C,) tensor, updated in place
    running_var: Optional[Any]  # (C,) tensor, updated in place
    factor: float  # running-average weight (momentum, or 1 / batches for the cumulative average)
    eps: float


__all__ = [
    "BACKENDS",
    "BN_NEURON_KINDS",
    "BatchNormArgs",
    "SPIKE_MAX_DENSITY",
    "KERNELS",
    "add_backend",
    "availability",
    "backends",
    "dispatch",
    "get_backend",
    "has_kernel",
    "register",
]
