"""``BatchNorm1d``: ``nn.BatchNorm1d`` whose training-mode pass over ``(M, C)`` rows runs a fused kernel.

Same parameters, buffers, state dict and result as ``nn.BatchNorm1d`` (it is one: exports and
checkpoints see a BatchNorm1d). In training mode, on a 2-D input, it calls the op
``batch_norm.rows`` (:mod:`snnlab.kernels.common.batch_norm`): on CPU two passes over the input
forward and two backward, parallel over rows, where torch's own CPU kernel is several times
slower on the ``(T B, C)`` inputs of the multi-step layers. Evaluation, 3-D inputs and layers
without running statistics use torch's own path.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from snnlab.kernels import BACKENDS, dispatch, get_backend


class BatchNorm1d(nn.BatchNorm1d):
    """Batch normalisation over the rows of ``(M, C)`` (``M = T B`` in the multi-step layers).

    Args:
        num_features: channels ``C``.
        eps: added to the variance.
        momentum: running-average weight; None for the cumulative average (as torch).
        affine: learnable scale and shift.
        track_running_stats: keep running mean and variance (otherwise torch's path).
        backend: ``auto`` | ``torch`` (the reference) | ``numba`` | ``cuda`` (falls back to torch).
        device: parameter device.
        dtype: parameter dtype.
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        backend: str = "auto",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device=device, dtype=dtype)
        if backend != "auto" and backend not in BACKENDS:
            raise ValueError(f"BatchNorm1d: backend must be auto|{'|'.join(BACKENDS)}, got {backend!r}")
        self.backend = backend

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x (M, C)`` or ``(N, C, L)`` -> same shape."""
        if not (self.training and self.track_running_stats and x.dim() == 2 and x.shape[-1] == self.num_features):
            return super().forward(x)
        return train_rows(self, x)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, backend={self.backend!r}"


def train_rows(bn: nn.modules.batchnorm._BatchNorm, rows: torch.Tensor) -> torch.Tensor:
    """Training-mode batch norm of ``rows (M, C)`` through ``batch_norm.rows``, updating ``bn``'s
    running statistics and batch count as torch's layer does (``bn.backend`` picks the kernel;
    ``cuda`` falls back to torch)."""
    factor = count_batch(bn)
    backend = get_backend(getattr(bn, "backend", "auto"), rows, op="batch_norm.rows")
    if backend == "cuda":
        backend = "torch"
    args = (rows, bn.weight, bn.bias, bn.running_mean, bn.running_var, factor, bn.eps)
    return dispatch("batch_norm.rows", backend, *args)


def count_batch(bn: nn.modules.batchnorm._BatchNorm) -> float:
    """Count one training batch in ``bn.num_batches_tracked``; the running averages' weight for it
    (``momentum``, or ``1 / batches`` for the cumulative average), as torch's layer does."""
    bn.num_batches_tracked.add_(1)
    return 1.0 / float(bn.num_batches_tracked) if bn.momentum is None else bn.momentum
