"""Fast paths of :mod:`snnlab.functional` ops behind one registry.

Op names: ``neuron.<kind>`` for every kind of :data:`snnlab.functional.KINDS` (if, lif, alif,
cuba_lif, li), ``delay.taps``, ``delay.dense``, ``linear.spikes`` (a Linear computed from the
nonzeros of a spike input, :mod:`snnlab.kernels.common.spike_linear`) and ``conv2d.spikes`` (its
same-padded k x k convolution, :mod:`snnlab.kernels.common.spike_conv`). Every neuron kernel takes
``(x_seq (T, M), state, params, surrogate, k=None, return_v=False)`` and returns
``(out_seq (T, M), final_state, v_seq or None)``: ``out`` is spikes (membrane for ``li``),
``state`` a NamedTuple of (M,) tensors, ``k`` an optional 0-d tensor ``1/tau`` (PLIF), and
``v_seq`` the post-reset membrane when ``return_v``.
"""

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

__all__ = [
    "BACKENDS",
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
