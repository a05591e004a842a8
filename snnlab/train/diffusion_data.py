"""Images for diffusion training and evaluation, preloaded once as a uint8 tensor.

Any registered image dataset works (``fashion_mnist``, ``mnist``, ``cifar10``, ``image_folder``):
its items (float (C, H, W) in [0, 1]) are resized to ``image_size`` (area-averaged when
shrinking, bilinear otherwise) and stored as uint8 ``(N, C, S, S)``; the loop maps them to
[-1, 1]. Preloading keeps the step cost to a gather, which matters on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import torch
import torch.nn.functional as F

from snnlab.errors import ConfigError, DataError


@dataclass
class ImageDataConfig:
    """Which images, at what size."""

    name: str = "fashion_mnist"
    root: Optional[str] = None
    image_size: int = 32
    hflip: bool = False  # random horizontal flips during training (CIFAR, CelebA)
    limit: Optional[int] = None  # first N images only (smoke runs)
    options: dict[str, Any] = field(default_factory=dict)  # reader keywords (e.g. holdout_valid)

    def __post_init__(self) -> None:
        if not (isinstance(self.image_size, int) and self.image_size >= 4):
            raise ConfigError(f"data.image_size must be an int >= 4, got {self.image_size!r}")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"data.limit must be >= 1 or null, got {self.limit}")


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """Square-resize images ``(B, C, H, W)`` to ``(B, C, size, size)``."""
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    if x.shape[-1] > size:
        return F.interpolate(x, size=(size, size), mode="area")
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)


def load_images(cfg: ImageDataConfig, split: str) -> torch.Tensor:
    """All images of ``split`` as uint8 ``(N, C, S, S)`` (see :func:`load_labelled`)."""
    return load_labelled(cfg, split)[0]


def load_labelled(cfg: ImageDataConfig, split: str, chunk: int = 2048) -> tuple[torch.Tensor, torch.Tensor]:
    """All images of ``split`` as uint8 ``(N, C, S, S)`` and their labels ``(N,)`` int64.

    Raises:
        DataError: the dataset is missing, or its items are not images (C, H, W).
    """
    from snnlab.data import create_dataset

    ds = create_dataset(cfg.name, cfg.root, split, **cfg.options)
    n = len(ds) if cfg.limit is None else min(cfg.limit, len(ds))
    if n == 0:
        raise DataError(f"data {cfg.name!r} split {split!r} holds no images")
    loader = torch.utils.data.DataLoader(torch.utils.data.Subset(ds, range(n)), batch_size=chunk, shuffle=False)
    parts, labels = [], []
    for x, y in loader:
        if x.dim() != 4:
            raise DataError(f"data {cfg.name!r}: items must be images (C, H, W), got {tuple(x.shape[1:])}")
        parts.append((resize(x.float(), cfg.image_size).clamp(0, 1) * 255).round().to(torch.uint8))
        labels.append(torch.as_tensor(y, dtype=torch.int64))
    return torch.cat(parts), torch.cat(labels)


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """Samples in [-1, 1] -> [0, 1]."""
    return (x.clamp(-1, 1) + 1) / 2
