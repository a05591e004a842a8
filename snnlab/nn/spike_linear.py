"""``SpikeLinear``: ``nn.Linear`` that computes from the nonzeros of a sparse (spike) input.

Same parameters, state dict and result as ``nn.Linear`` (it is one: exports and checkpoints see
a Linear). Each call measures the input's density; at most ``max_density`` nonzeros it runs the
``linear.spikes`` op (forward and weight gradient gathered from the nonzeros, see
:mod:`snnlab.kernels.common.spike_linear`), above it the dense GEMM. Any leading shape works:
``(..., in_features) -> (..., out_features)``.

On CUDA tensors ``backend="auto"`` runs the dense GEMM (cuBLAS): on an H200 it was 2.6-5.8x faster
than the ``linear.spikes`` cuda kernel at 1-20 % density (benchmarks/README.md, GPU section).
``backend="cuda"`` still runs the kernel.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from snnlab.kernels import BACKENDS, SPIKE_MAX_DENSITY, dispatch, get_backend


def dense_on_gpu(x: torch.Tensor, backend: str) -> bool:
    """True where ``auto`` leaves a CUDA input to the dense cuBLAS/cuDNN op (faster there at every
    density measured; benchmarks/README.md, GPU section)."""
    return backend == "auto" and x.is_cuda


class SpikeLinear(nn.Linear):
    """Linear layer for spike inputs (binary, dropout-scaled or small counts; mostly zeros).

    Args:
        in_features: inputs ``K``.
        out_features: outputs ``N``.
        bias: learnable bias.
        max_density: share of nonzero inputs above which the dense GEMM is used.
        backend: ``auto`` (numba on CPU tensors; dense cuBLAS on CUDA tensors) | ``torch`` (always
            dense, the reference) | ``numba`` | ``cuda``.
        device: parameter device.
        dtype: parameter dtype.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        max_density: float = SPIKE_MAX_DENSITY,
        backend: str = "auto",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(in_features, out_features, bias=bias, device=device, dtype=dtype)
        if backend != "auto" and backend not in BACKENDS:
            raise ValueError(f"SpikeLinear: backend must be auto|{'|'.join(BACKENDS)}, got {backend!r}")
        if not 0.0 <= float(max_density) <= 1.0:
            raise ValueError(f"SpikeLinear: max_density must be in [0, 1], got {max_density!r}")
        self.max_density, self.backend = float(max_density), backend

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x (..., in_features)`` -> ``(..., out_features)``."""
        if x.dim() < 2 or x.shape[-1] != self.in_features or x.dtype != self.weight.dtype:
            return F.linear(x, self.weight, self.bias)  # torch's own checks and messages
        if dense_on_gpu(x, self.backend):
            return F.linear(x, self.weight, self.bias)
        backend = get_backend(self.backend, x, op="linear.spikes")
        y = dispatch(
            "linear.spikes", backend, x.reshape(-1, self.in_features), self.weight, self.bias, self.max_density
        )
        return y.reshape(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, max_density={self.max_density}, backend={self.backend!r}"
