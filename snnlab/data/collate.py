"""Batch collation: time-major stacking with zero padding at the end of short samples."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from snnlab.errors import ShapeError


def collate_time_major(batch: Sequence[tuple[torch.Tensor, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack ``(x (T_i, ...), y)`` items into ``x (T, B, ...)``, ``y (B,)``.

    Samples shorter than the longest one in the batch are zero-padded at the end (the SHD
    recipe's ``pad_sequence`` collation), so T = max_i T_i.

    Args:
        batch: items of a snnlab dataset; every x has the same per-step shape.

    Returns:
        ``(x, y)``: float32 (T, B, ...) and int64 (B,).

    Raises:
        ShapeError: when the batch is empty or per-step shapes differ.
    """
    if len(batch) == 0:
        raise ShapeError("collate_time_major got an empty batch")
    xs = [torch.as_tensor(item[0]) for item in batch]
    step_shapes = {tuple(x.shape[1:]) for x in xs}
    if len(step_shapes) != 1 or xs[0].dim() < 1:
        raise ShapeError(
            f"collate_time_major needs (T, ...) samples with one per-step shape, got {sorted(step_shapes)}"
        )
    n_steps = max(x.shape[0] for x in xs)
    out = xs[0].new_zeros((n_steps, len(xs), *xs[0].shape[1:]), dtype=torch.float32)  # (T, B, ...)
    for b, x in enumerate(xs):
        out[: x.shape[0], b] = x
    y = torch.as_tensor([int(item[1]) for item in batch], dtype=torch.int64)  # (B,)
    return out, y


pad_collate = collate_time_major


def collate_static(batch: Sequence[tuple[torch.Tensor, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack static items ``(x (C, H, W), y)`` into ``x (B, C, H, W)``, ``y (B,)``.

    Used for CIFAR without ``timesteps``; apply :class:`snnlab.data.DirectEncode` to the batch
    (or let the model do it) to get ``(T, B, C, H, W)``.
    """
    if len(batch) == 0:
        raise ShapeError("collate_static got an empty batch")
    x = torch.stack([torch.as_tensor(item[0], dtype=torch.float32) for item in batch])
    y = torch.as_tensor([int(item[1]) for item in batch], dtype=torch.int64)
    return x, y
