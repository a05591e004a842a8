"""Registers the numba-cuda neuron kernels: ``neuron.<kind>`` for if, lif, alif, cuba_lif, li.

Same signature and semantics as the torch reference; fused forward and backward passes (see
:class:`snnlab.kernels.common.fused.FusedNeuronFunction`) with one thread per neuron.

- On a GPU the kernels read and write CUDA tensors in place through
  ``__cuda_array_interface__`` (``numba.cuda.as_cuda_array``), on torch's current stream; there
  are no host copies. CPU tensors are rejected.
- Under ``NUMBA_ENABLE_CUDASIM=1`` (no GPU) the very same kernels are launched on the host
  arrays of CPU tensors, which the simulator accepts; this is how the tests run them.

dtypes: float32 and float64 natively, float16 natively (numba-cuda half arithmetic; every
operation rounds to half as torch's half kernels do); bfloat16 is computed in float32.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import torch

from snnlab.errors import BackendError
from snnlab.functional.surrogate import ATan
from snnlab.kernels import cuda as backend
from snnlab.kernels.common import equations as eq
from snnlab.kernels.common.fused import register_neuron_kernels
from snnlab.kernels.cuda import kernels

THREADS_PER_BLOCK = 128


def _array(t: torch.Tensor) -> Any:
    """A kernel argument viewing ``t`` in place: a device array on GPU, a host array under the simulator."""
    from numba import cuda

    t = t.detach()
    # sync=False: the kernels run on torch's current stream (``_launch``), which orders them after the
    # work that wrote ``t``; the default (sync=True) would block the host on that stream for every array.
    return cuda.as_cuda_array(t, sync=False) if t.is_cuda else t.numpy()


def _launch(kernel: Callable, M: int, like: torch.Tensor, *args: Any) -> None:
    if M == 0:
        return
    tpb = min(THREADS_PER_BLOCK, M) if backend.simulated() else THREADS_PER_BLOCK
    config = kernel[math.ceil(M / tpb), tpb]
    if like.is_cuda:
        from numba import cuda

        config = kernel[
            math.ceil(M / tpb), tpb, cuda.external_stream(torch.cuda.current_stream(like.device).cuda_stream)
        ]
    config(*args)


class CudaLauncher:
    """Runs the fused kernels on CUDA tensors (or host arrays under the simulator)."""

    name = "cuda"

    def compute_dtype(self, dtype: torch.dtype) -> torch.dtype:
        """float16/32/64 run as they are; bfloat16 runs in float32."""
        return dtype if dtype in (torch.float16, torch.float32, torch.float64) else torch.float32

    def forward(self, plan, x, a0, b0, out, v_seq, keep_a, keep_b, a_T, b_T) -> None:
        if x.shape[0] == 0:
            a_T.copy_(a0)
            b_T.copy_(b0)
            return
        kernel = kernels.forward_kernel(plan.family, plan.F)
        _launch(
            kernel,
            x.shape[1],
            x,
            *map(_array, (x, a0, b0)),
            plan.P,
            *map(_array, (out, v_seq, keep_a, keep_b, a_T, b_T)),
        )

    def backward(self, plan, flags, g_out, g_v, ga_T, gb_T, keep_a, keep_b, a0, g_x, ga0, gb0) -> torch.Tensor:
        g_out = g_out.contiguous()
        T, M = g_out.shape
        gk = torch.zeros(M if flags[eq.NEED_K] else 1, dtype=torch.float64, device=g_out.device)
        if T == 0:
            ga0.copy_(ga_T)
            gb0.copy_(gb_T)
            return gk.sum()
        surrogate = type(plan.surrogate) if plan.surrogate else ATan  # LI never evaluates it
        kernel = kernels.backward_kernel(plan.family, surrogate, flags)
        alpha = np.float64(plan.surrogate.alpha if plan.surrogate else 1.0)
        _launch(
            kernel,
            M,
            g_out,
            *map(_array, (g_out, g_v, ga_T, gb_T, keep_a, keep_b, a0)),
            plan.P,
            alpha,
            *map(_array, (g_x, ga0, gb0, gk)),
        )
        return gk.sum()  # stays on the device: no host sync per backward


LAUNCHER = CudaLauncher()


def _check(kind: str, x_seq: torch.Tensor) -> None:
    if not x_seq.is_cuda and not backend.simulated():
        raise BackendError(f"neuron.{kind} on backend 'cuda' needs CUDA tensors, got {x_seq.device}")


register_neuron_kernels(LAUNCHER, "cuda", _check)
