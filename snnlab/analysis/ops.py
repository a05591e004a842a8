"""Tiny modules that make otherwise invisible operations countable by the activity hooks.

A ``torch.matmul`` inside a model's ``forward`` has no module and so no hook. Spiking
self-attention written with :class:`MatMul` (``q @ k^T``, ``attn @ v``) is counted: effective
operations are the products of non-zero pairs, ACs when one operand is a spike tensor (each product adds the other value).
"""

from __future__ import annotations

import torch
from torch import nn


class MatMul(nn.Module):
    """``a @ b`` as a module, flagged ``is_attention_matmul`` for :func:`profile_model`."""

    is_attention_matmul = True

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Batched matrix product; a (..., N, K), b (..., K, M) -> (..., N, M)."""
        return torch.matmul(a, b)
