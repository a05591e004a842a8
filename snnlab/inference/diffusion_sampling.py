"""Drawing many images from a trained noise predictor: batches, threshold guidance, progress, files.

``generate`` runs a sampler of :mod:`snnlab.inference.diffusion` batch by batch (seed ``s`` for
batch ``i`` is ``s + i``, so a run of ``n`` images is reproducible), optionally with every IF
threshold scaled (threshold guidance, SDM Eq. 18: training-free). Images are returned in
[-1, 1]; :func:`save_samples` writes the ``.npz`` (uint8 ``images`` (N, C, H, W)) and an
image-grid PNG.
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import nn

from snnlab.errors import ConfigError
from snnlab.functional.diffusion import NoiseSchedule
from snnlab.inference.diffusion import ddim_timesteps, sample


def check_threshold(threshold: float) -> float:
    """Return ``threshold`` or raise ConfigError unless it is a number > 0."""
    if not (isinstance(threshold, (int, float)) and threshold > 0):
        raise ConfigError(f"--threshold must be > 0 (the papers use 0.997..1.003), got {threshold!r}")
    return float(threshold)


def guidance(model: nn.Module, threshold: float) -> contextlib.AbstractContextManager:
    """Context scaling every IF threshold of ``model`` by ``threshold`` (1.0: unchanged)."""
    check_threshold(threshold)
    if threshold == 1.0:
        return contextlib.nullcontext()
    if not getattr(model, "spiking", False):
        raise ConfigError(
            f"--threshold {threshold}: threshold guidance needs a spiking model; this one has no IF neurons"
        )
    return model.threshold_scale(threshold)


def generate(
    model: nn.Module,
    schedule: NoiseSchedule,
    n: int,
    sampler: str = "ddim",
    steps: int = 50,
    threshold: float = 1.0,
    seed: int = 0,
    batch: int = 64,
    progress: bool = False,
    device: Optional[torch.device] = None,
) -> torch.Tensor:
    """``n`` images ``(n, C, S, S)`` in [-1, 1]."""
    if not (isinstance(n, int) and n >= 1):
        raise ConfigError(f"--n must be a positive int, got {n!r}")
    check_threshold(threshold)
    if sampler == "ddim":
        ddim_timesteps(schedule.steps, steps)  # validates steps before any work
    per = schedule.steps if sampler == "ddpm" else steps
    shape = (model.in_channels, model.image_size, model.image_size)
    bar = _bar(math.ceil(n / batch) * per, progress)
    out = []
    with guidance(model, threshold), torch.no_grad():
        for i, start in enumerate(range(0, n, batch)):
            b = min(batch, n - start)
            out.append(
                sample(
                    model,
                    schedule,
                    (b, *shape),
                    sampler,
                    steps,
                    seed=seed + i,
                    device=device,
                    progress=bar.update if bar else None,
                ).cpu()
            )
    if bar:
        bar.close()
    return torch.cat(out)


def _bar(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="eval", desc="sampling", leave=False)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[-1, 1] float -> uint8 (N, C, H, W)."""
    return ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()


def image_grid(images: np.ndarray, cols: Optional[int] = None, pad: int = 1) -> np.ndarray:
    """uint8 (N, C, H, W) -> one uint8 image (rows*H', cols*W', C) with ``pad`` px white gaps."""
    n, c, h, w = images.shape
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), 255, dtype=np.uint8)
    for k in range(n):
        r, q = divmod(k, cols)
        y, x = pad + r * (h + pad), pad + q * (w + pad)
        grid[y : y + h, x : x + w] = images[k].transpose(1, 2, 0)
    return grid


def save_samples(images: torch.Tensor, stem: str | Path, scale: int = 2) -> tuple[Path, Path]:
    """Write ``stem.npz`` (uint8 images) and ``stem.png`` (a grid, nearest-upscaled ``scale`` times)."""
    from PIL import Image

    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    npz, png = stem.parent / (stem.name + ".npz"), stem.parent / (stem.name + ".png")  # names may hold dots
    arr = to_uint8(images)
    np.savez_compressed(npz, images=arr)
    grid = image_grid(arr)
    img = Image.fromarray(grid[:, :, 0] if grid.shape[2] == 1 else grid)
    img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    img.save(png)
    return npz, png


def load_samples(path: str | Path) -> torch.Tensor:
    """Images of a ``.npz`` written by :func:`save_samples`, in [-1, 1]."""
    from snnlab.errors import DataError

    try:
        with np.load(path, allow_pickle=False) as z:
            arr = z["images"]
    except (OSError, KeyError, ValueError) as err:
        raise DataError(f"{path}: not a samples file with an 'images' array ({err})") from None
    if arr.dtype != np.uint8 or arr.ndim != 4:
        raise DataError(f"{path}: 'images' must be uint8 (N, C, H, W), got {arr.dtype} {arr.shape}")
    return torch.from_numpy(arr).float() / 127.5 - 1.0
