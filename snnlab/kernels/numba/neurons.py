"""Registers the numba (CPU) neuron kernels: ``neuron.<kind>`` for if, lif, alif, cuba_lif, li.

Each kernel has the torch reference's signature and semantics
(``(x_seq (T, M), state, params, surrogate, k=None, return_v=False)`` ->
``(out_seq (T, M), final_state, v_seq or None)``) and runs fused forward and backward passes
(see :class:`snnlab.kernels.numba.fused.FusedNeuronFunction`) on CPU tensors in place.
float32 and float64 run natively; float16 and bfloat16 inputs are computed in float32.
"""
from __future__ import annotations

from typing import Callable, Optional

import torch

from snnlab.functional.neuron import NeuronParams
from snnlab.functional.surrogate import Surrogate
from snnlab.kernels.numba.cpu import CpuLauncher
from snnlab.kernels.numba.fused import run_neuron
from snnlab.kernels.registry import register

KINDS = ("if", "lif", "alif", "cuba_lif", "li")
LAUNCHER = CpuLauncher()


def _kernel(kind: str) -> Callable:
    @torch.compiler.disable
    def kernel(x_seq: torch.Tensor, state: tuple, p: NeuronParams, surrogate: Optional[Surrogate],
               k: Optional[torch.Tensor] = None, return_v: bool = False) -> tuple:
        """(T, M) input -> (out (T, M), final state, v_seq (T, M) or None), fused on CPU."""
        if x_seq.is_cuda:
            raise ValueError(f"neuron.{kind} on backend 'numba' needs CPU tensors, got {x_seq.device}")
        return run_neuron(LAUNCHER, kind, x_seq, state, p, surrogate, k=k, return_v=return_v)

    kernel.__name__ = f"{kind}_multistep_numba"
    return kernel


for _kind in KINDS:
    register(f"neuron.{_kind}", "numba")(_kernel(_kind))
