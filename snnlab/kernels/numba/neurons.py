"""Registers the numba (CPU) neuron kernels: ``neuron.<kind>`` for if, lif, alif, cuba_lif, li.

Each kernel has the torch reference's signature and semantics
(``(x_seq (T, M), state, params, surrogate, k=None, return_v=False)`` ->
``(out_seq (T, M), final_state, v_seq or None)``) and runs fused forward and backward passes
(see :class:`snnlab.kernels.common.fused.FusedNeuronFunction`) on CPU tensors in place.
float32 and float64 run natively; float16 and bfloat16 inputs are computed in float32.
"""

from __future__ import annotations

import torch

from snnlab.kernels.common.fused import register_neuron_kernels
from snnlab.kernels.numba.cpu import CpuLauncher

LAUNCHER = CpuLauncher()


def _check(kind: str, x_seq: torch.Tensor) -> None:
    if x_seq.is_cuda:
        raise ValueError(f"neuron.{kind} on backend 'numba' needs CPU tensors, got {x_seq.device}")


register_neuron_kernels(LAUNCHER, "numba", _check)
