"""Which voxels the HD-SNN layer is trained and read at, and their past windows.

Two facts of the task shape the training set:

* Evidence is read where the sensor has an event (``gate='events'``). On a spatially
  stationary texture the expected event density at every (delay, offset) of the kernel is the
  same for all directions, so the expected linear evidence at an arbitrary voxel carries no
  direction; conditioned on an event at the voxel itself, the past events line up along the
  trajectory that brought the edge there, which is exactly what a delay-offset synapse
  detects. ``gate='all'`` reads every voxel (the paper's per-voxel loss).
* A voxel ``k`` steps after a change of motion has a past window mixing two segments; its
  label is the new motion but most of its evidence is the old one. Voxels less than
  ``settle`` steps into a segment are therefore left out of training (label noise) and are
  reported separately at evaluation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from snnlab.errors import ConfigError, ShapeError

GATES = ("events", "all")


def segment_age(labels: torch.Tensor) -> torch.Tensor:
    """Steps since the label last changed: labels (N, T) -> (N, T) int64 (0 at a change and at t = 0)."""
    if labels.dim() != 2:
        raise ShapeError(f"labels must be (movies, time), got shape {tuple(labels.shape)}")
    age = torch.zeros_like(labels, dtype=torch.int64)
    for t in range(1, labels.shape[1]):
        age[:, t] = torch.where(labels[:, t] == labels[:, t - 1], age[:, t - 1] + 1, 0)
    return age


def settled_steps(labels: torch.Tensor, warmup: int, settle: int) -> torch.Tensor:
    """Steps counted at evaluation: labels (N, T) -> bool (N, T - warmup), True where the step is
    at least ``settle`` steps into its motion segment (all True for ``settle = 0``).

    Raises:
        ShapeError: ``warmup`` outside ``[0, T)``.
    """
    if not 0 <= warmup < labels.shape[-1]:
        raise ShapeError(f"warmup must lie in [0, {labels.shape[-1]}), got {warmup}")
    return segment_age(labels)[:, warmup:] >= settle


def gate_mask(voxels: torch.Tensor, gate: str) -> torch.Tensor:
    """Voxels where evidence is read: (N, P, T, H, W) -> bool (N, T, H, W).

    ``events``: any polarity has an event at that voxel; ``all``: every voxel.
    """
    if gate not in GATES:
        raise ConfigError(f"gate must be one of {GATES}, got {gate!r}")
    if voxels.dim() != 5:
        raise ShapeError(f"voxels must be (batch, polarity, time, height, width), got {tuple(voxels.shape)}")
    if gate == "all":
        return torch.ones(voxels.shape[:1] + voxels.shape[2:], dtype=torch.bool, device=voxels.device)
    return voxels.amax(dim=1) > 0


def sample_voxels(
    voxels: torch.Tensor, labels: torch.Tensor, gate: str, settle: int, per_movie: int, generator: torch.Generator
) -> torch.Tensor:
    """Random training voxels: gated, at least ``settle`` steps into their motion segment.

    Args:
        voxels: (N, P, T, H, W) binary voxels.
        labels: (N, T) class per step.
        gate: ``events`` or ``all`` (see :func:`gate_mask`).
        settle: minimum :func:`segment_age` of a sampled step (>= 0).
        per_movie: voxels drawn per movie on average (the batch draws ``N * per_movie``
            among all candidates, without replacement).
        generator: random generator of the draw.

    Returns:
        Indices (M, 4) as (movie, t, y, x), int64.
    """
    if settle < 0 or per_movie < 1:
        raise ConfigError(f"settle must be >= 0 and per_movie >= 1, got {settle!r}, {per_movie!r}")
    ok = gate_mask(voxels, gate) & (segment_age(labels) >= settle)[:, :, None, None]
    candidates = torch.nonzero(ok)  # (n, 4)
    pick = torch.randperm(len(candidates), generator=generator)[: voxels.shape[0] * per_movie]
    return candidates[pick]


def past_windows(voxels: torch.Tensor, index: torch.Tensor, kernel_t: int, kernel_xy: int) -> torch.Tensor:
    """The causal receptive field of each indexed voxel.

    Args:
        voxels: (N, P, T, H, W).
        index: (M, 4) rows (movie, t, y, x).
        kernel_t, kernel_xy: kernel sizes (``kernel_xy`` odd).

    Returns:
        Windows (M, P, K_T, K_XY, K_XY), same dtype as ``voxels``, indexed [delay, dy, dx] like
        the kernel: ``w[m, p, d, dy + h, dx + h] = A[p, t - d, y - dy, x - dx]`` (h = K_XY // 2;
        zero before the movie and outside the frame), so that the evidence at the voxel is
        ``sum(w * K[c])``.
    """
    half = kernel_xy // 2
    padded = F.pad(voxels, (half, half, half, half, kernel_t - 1, 0))
    windows = padded.unfold(2, kernel_t, 1).unfold(3, kernel_xy, 1).unfold(4, kernel_xy, 1)
    n, t, y, x = index.T
    return windows[n, :, t, y, x].flip(2, 3, 4)  # (M, P, K_T, K_XY, K_XY), oldest/farthest last
