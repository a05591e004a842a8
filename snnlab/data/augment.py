"""Tensor transforms: frame augmentation (TimeMask, ChannelMask), image augmentation for
CIFAR (Normalize, RandomCrop with padding, RandomHorizontalFlip) and DirectEncode.

All take and return torch tensors. Random transforms draw from their own
``torch.Generator`` seeded at construction, so a run is reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from snnlab.errors import ConfigError, ShapeError


def _check_int(name: str, value: int, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
    return value


class _Random:
    """Holds a seeded generator for the random transforms."""

    def __init__(self, seed: int | None) -> None:
        self.generator = torch.Generator()
        self.generator.manual_seed(torch.seed() if seed is None else int(seed))

    def _randint(self, high: int) -> int:
        return int(torch.randint(high, (1,), generator=self.generator))


class TimeMask(_Random):
    """Zero ``n_masks`` random spans of up to ``max_width`` time steps of a (T, ...) frame tensor.

    Args:
        max_width: longest masked span in steps.
        n_masks: number of spans.
        seed: generator seed (None: random).
    """

    def __init__(self, max_width: int, n_masks: int = 1, seed: int | None = None) -> None:
        self.max_width = _check_int("TimeMask.max_width", max_width, 1)
        self.n_masks = _check_int("TimeMask.n_masks", n_masks, 0)
        super().__init__(seed)

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:  # (T, ...) -> (T, ...)
        if frames.dim() < 1:
            raise ShapeError(f"TimeMask needs a (T, ...) tensor, got shape {tuple(frames.shape)}")
        out = frames.clone()
        n_steps = frames.shape[0]
        for _ in range(self.n_masks):
            width = 1 + self._randint(min(self.max_width, n_steps))
            start = self._randint(n_steps - width + 1)
            out[start : start + width] = 0
        return out


class ChannelMask(_Random):
    """Zero ``n_masks`` random runs of up to ``max_width`` features of a (T, ...) tensor.

    Features are counted over the flattened per-step shape (SHD's 140 channels; a DVS
    frame's P*H*W pixels).

    Args:
        max_width: longest masked run of features.
        n_masks: number of runs.
        seed: generator seed (None: random).
    """

    def __init__(self, max_width: int, n_masks: int = 1, seed: int | None = None) -> None:
        self.max_width = _check_int("ChannelMask.max_width", max_width, 1)
        self.n_masks = _check_int("ChannelMask.n_masks", n_masks, 0)
        super().__init__(seed)

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:  # (T, ...) -> (T, ...)
        if frames.dim() < 2:
            raise ShapeError(f"ChannelMask needs a (T, features...) tensor, got shape {tuple(frames.shape)}")
        out = frames.clone()
        flat = out.reshape(frames.shape[0], -1)  # (T, F), a view of out
        n_feat = flat.shape[1]
        for _ in range(self.n_masks):
            width = 1 + self._randint(min(self.max_width, n_feat))
            start = self._randint(n_feat - width + 1)
            flat[:, start : start + width] = 0
        return out


class Normalize:
    """Per-channel ``(x - mean) / std`` on a (C, H, W) image.

    Args:
        mean: one value per channel.
        std: one positive value per channel.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        if len(mean) != len(std) or min(std) <= 0:
            raise ConfigError(f"Normalize needs equal-length mean/std with std > 0, got {mean} / {std}")
        self.mean = torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(-1, 1, 1)

    def __call__(self, image: torch.Tensor) -> torch.Tensor:  # (C, H, W)
        if image.dim() != 3 or image.shape[0] != self.mean.shape[0]:
            raise ShapeError(f"Normalize expects ({self.mean.shape[0]}, H, W), got {tuple(image.shape)}")
        return (image - self.mean) / self.std


class RandomCrop(_Random):
    """Zero-pad a (C, H, W) image by ``padding`` and crop a random ``size`` x ``size`` window.

    Args:
        size: output side length.
        padding: zero padding on every side.
        seed: generator seed.
    """

    def __init__(self, size: int, padding: int = 4, seed: int | None = None) -> None:
        self.size = _check_int("RandomCrop.size", size, 1)
        self.padding = _check_int("RandomCrop.padding", padding, 0)
        super().__init__(seed)

    def __call__(self, image: torch.Tensor) -> torch.Tensor:  # (C, H, W) -> (C, size, size)
        pad = self.padding
        padded = torch.nn.functional.pad(image, (pad, pad, pad, pad))
        h, w = padded.shape[-2:]
        if h < self.size or w < self.size:
            raise ShapeError(f"RandomCrop size {self.size} exceeds the padded image {(h, w)}")
        top, left = self._randint(h - self.size + 1), self._randint(w - self.size + 1)
        return padded[..., top : top + self.size, left : left + self.size]


class RandomHorizontalFlip(_Random):
    """Mirror a (C, H, W) image left-right with probability ``p``."""

    def __init__(self, p: float = 0.5, seed: int | None = None) -> None:
        if not 0.0 <= p <= 1.0:
            raise ConfigError(f"RandomHorizontalFlip.p must be in [0, 1], got {p}")
        self.p = float(p)
        super().__init__(seed)

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        if float(torch.rand((), generator=self.generator)) < self.p:
            return image.flip(-1)
        return image


class DirectEncode:
    """Direct (analog) encoding of a static input: repeat it over ``timesteps`` steps.

    ``x (...)`` -> ``(T, ...)``: works on one image (C, H, W) -> (T, C, H, W) and on a
    batch (B, C, H, W) -> (T, B, C, H, W). The first layer of the network turns the
    repeated analog input into spikes (the usual recipe for CIFAR SNNs).

    Args:
        timesteps: T >= 1.
    """

    def __init__(self, timesteps: int) -> None:
        self.timesteps = _check_int("DirectEncode.timesteps", timesteps, 1)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(0).expand(self.timesteps, *x.shape).contiguous()
