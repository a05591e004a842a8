"""numba-cuda kernels of ``linear.spikes`` (see :mod:`snnlab.kernels.common.spike_linear`).

The CSR rows are built with torch ops on the device (``compress_torch``). Forward: one thread
per output ``(m, n)``, consecutive threads on consecutive ``n`` (coalesced reads of ``W^T``).
Weight gradient: one thread per ``(m, n)`` adding ``val * dy[m, n]`` into ``dW^T[k, n]`` for
every nonzero ``(m, k)`` of its row, with atomic adds (rows share columns ``k``). Under
``NUMBA_ENABLE_CUDASIM=1`` the same kernels run on the host arrays of CPU tensors.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import torch
from numba import cuda

from snnlab.kernels import cuda as backend
from snnlab.kernels.common.spike_linear import CSR, compress_torch, input_grad_torch, register_spike_linear

THREADS = 128


@cuda.jit
def _forward(indptr, idx, val, wt, out):  # pragma: no cover - compiled
    m, n = cuda.grid(2)
    if m < out.shape[0] and n < out.shape[1]:
        acc = 0.0
        for p in range(indptr[m], indptr[m + 1]):
            acc += val[p] * wt[idx[p], n]
        out[m, n] = acc


@cuda.jit
def _weight_grad(indptr, idx, val, gy, gwt):  # pragma: no cover - compiled
    m, n = cuda.grid(2)
    if m < gy.shape[0] and n < gy.shape[1]:
        g = gy[m, n]
        for p in range(indptr[m], indptr[m + 1]):
            cuda.atomic.add(gwt, (idx[p], n), val[p] * g)


def _array(t: torch.Tensor) -> Any:
    t = t.detach()
    # sync=False: launched on torch's current stream, which orders the kernel after the writes of ``t``
    return cuda.as_cuda_array(t, sync=False) if t.is_cuda else t.numpy()


def _launch(kernel: Any, rows: int, cols: int, like: torch.Tensor, *tensors: torch.Tensor) -> None:
    if rows == 0 or cols == 0:
        return
    tx = min(THREADS, cols) if backend.simulated() else THREADS
    grid = (rows, math.ceil(cols / tx))
    if like.is_cuda:
        stream = cuda.external_stream(torch.cuda.current_stream(like.device).cuda_stream)
        kernel[grid, (1, tx), stream](*map(_array, tensors))
    else:
        kernel[grid, (1, tx)](*map(_array, tensors))


class CudaSpikeLinear:
    """CSR kernels on CUDA tensors (float32 and float64; host arrays under the simulator)."""

    @staticmethod
    def unsupported(x: torch.Tensor) -> bool:
        return x.dtype not in (torch.float32, torch.float64) or (not x.is_cuda and not backend.simulated())

    @staticmethod
    def compress(x: torch.Tensor, max_density: float) -> Optional[CSR]:
        return compress_torch(x, max_density)

    input_grad = staticmethod(input_grad_torch)

    @staticmethod
    def forward(csr: CSR, wt: torch.Tensor) -> torch.Tensor:
        out = torch.empty(csr.shape[0], wt.shape[1], dtype=wt.dtype, device=wt.device)
        _launch(_forward, csr.shape[0], wt.shape[1], wt, csr.indptr, csr.idx, csr.val, wt, out)
        return out

    @staticmethod
    def weight_grad(csr: CSR, gy: torch.Tensor, n_in: int) -> torch.Tensor:
        gwt = torch.zeros(n_in, gy.shape[1], dtype=gy.dtype, device=gy.device)
        _launch(_weight_grad, csr.shape[0], gy.shape[1], gy, csr.indptr, csr.idx, csr.val, gy, gwt)
        return gwt  # (K, N)


register_spike_linear(CudaSpikeLinear, "cuda")
