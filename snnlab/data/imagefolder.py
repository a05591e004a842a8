"""Folders of PNG/JPEG images (CelebA ``img_align_celeba/``, LSUN exports, any class-per-folder tree).

Layout: ``root/<split>/`` when that folder exists, else ``root/`` itself for ``split="train"``.
Images are found recursively (sorted paths); when they sit in first-level sub-folders, each
sub-folder is a class (sorted names), otherwise every label is 0. An item is
``(x, y)`` with ``x`` float32 ``(C, S, S)`` in [0, 1]: the image is centre-cropped to
``crop`` pixels (a square of the shorter side when ``crop`` is None; CelebA uses 148),
then resized to ``image_size`` (64 for CelebA and LSUN in the diffusion papers).

Classification options (the ImageNet recipe, timm's pipeline): ``crop_pct`` centre-crops that
fraction of the shorter side before resizing (0.875: resize 256 / crop 224); ``augment`` instead
takes a random resized crop (area U(0.08, 1) of the image, log-uniform aspect ratio in (3/4, 4/3),
10 attempts, else the centre square) and a horizontal flip with probability 0.5; then
``randaugment`` (a timm string, the full op set), ``normalize`` (ImageNet mean/std) and random
erasing with probability ``reprob`` (``erase_mode`` "pixel" as timm's ImageNet default).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch

from snnlab.data.augment import Normalize
from snnlab.data.collate import collate_static
from snnlab.data.image_augment import RandomErasing, parse_randaugment
from snnlab.errors import ConfigError, DataError

IMAGENET_MEAN_STD = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
MODES = {1: "L", 3: "RGB"}


def list_images(folder: Path) -> list[Path]:
    """Image files under ``folder`` (recursive, sorted)."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in EXTENSIONS and p.is_file())


def _split_folder(root: str | None, split: str) -> Path:
    if root is None:
        raise DataError("image_folder: data.root must name a folder of images")
    base = Path(root)
    if not base.is_dir():
        raise DataError(f"image_folder: {base} is not a folder")
    if (base / split).is_dir():
        return base / split
    if split == "train":
        return base
    raise DataError(
        f"image_folder: {base} has no '{split}' sub-folder; valid: train (the folder itself) "
        "or the sub-folders it holds"
    )


class ImageFolderDataset(torch.utils.data.Dataset):
    """Images of one folder, decoded on access with Pillow."""

    def __init__(
        self,
        folder: Path,
        image_size: int,
        channels: int,
        crop: Optional[int],
        crop_pct: float = 1.0,
        augment: bool = False,
        post: Optional[list] = None,
        seed: Optional[int] = None,
    ) -> None:
        self.paths = list_images(folder)
        if not self.paths:
            raise DataError(f"image_folder: no {'/'.join(EXTENSIONS)} files under {folder}")
        rel = [p.relative_to(folder).parts for p in self.paths]
        self.classes = sorted({r[0] for r in rel if len(r) > 1})
        index = {c: i for i, c in enumerate(self.classes)}
        self.labels = [index[r[0]] if len(r) > 1 else 0 for r in rel]
        self.image_size, self.channels, self.crop = image_size, channels, crop
        self.crop_pct, self.augment, self.post = float(crop_pct), bool(augment), post or []
        self.rng = np.random.default_rng(seed)
        self.num_classes = max(len(self.classes), 1)
        self.input_shape = (channels, image_size, image_size)
        self.timesteps = None
        self.collate_fn = collate_static  # (B, C, S, S); the model repeats static images over T

    def __len__(self) -> int:
        return len(self.paths)

    def _load(self, path: Path) -> np.ndarray:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as img:
                img = img.convert(MODES[self.channels])
                img = img.crop(self._box(*img.size))
                img = img.resize((self.image_size, self.image_size), Image.BICUBIC)
                if self.augment and self.rng.random() < 0.5:
                    img = img.transpose(Image.FLIP_LEFT_RIGHT)
                arr = np.asarray(img, dtype=np.uint8)
        except (UnidentifiedImageError, OSError) as err:
            raise DataError(f"{path}: not a readable image ({err})") from None
        return arr[:, :, None] if arr.ndim == 2 else arr  # (S, S, C)

    def _box(self, w: int, h: int) -> tuple[int, int, int, int]:
        """Crop box: a random resized crop when augmenting, else the centre square (``crop`` or
        ``crop_pct`` of the shorter side)."""
        if self.augment:
            for _ in range(10):
                area = w * h * self.rng.uniform(0.08, 1.0)
                ratio = np.exp(self.rng.uniform(np.log(3 / 4), np.log(4 / 3)))
                cw, ch = int(round(np.sqrt(area * ratio))), int(round(np.sqrt(area / ratio)))
                if 0 < cw <= w and 0 < ch <= h:
                    left, top = int(self.rng.integers(0, w - cw + 1)), int(self.rng.integers(0, h - ch + 1))
                    return left, top, left + cw, top + ch
        side = min(self.crop or int(min(w, h) * self.crop_pct), w, h)
        left, top = (w - side) // 2, (h - side) // 2
        return left, top, left + side, top + side

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        arr = self._load(self.paths[index])
        x = torch.from_numpy(arr.transpose(2, 0, 1).copy()).float() / 255.0  # (C, S, S)
        for step in self.post:
            x = step(x)
        return x, self.labels[index]


def image_folder_dataset(
    root: str | None = None,
    split: str = "train",
    image_size: int = 64,
    channels: int = 3,
    crop: Optional[int] = None,
    crop_pct: float = 1.0,
    augment: bool = False,
    randaugment: Optional[str] = None,
    normalize: bool = False,
    reprob: float = 0.0,
    erase_mode: str = "pixel",
    seed: Optional[int] = None,
) -> ImageFolderDataset:
    """Build the dataset of ``root`` (see the module docstring).

    Raises:
        DataError: missing folder or split, no images, an unreadable file (on access).
        ConfigError: a size or channel count that is not valid.
    """
    if not (isinstance(image_size, int) and image_size >= 1):
        raise ConfigError(f"image_folder: image_size must be a positive int, got {image_size!r}")
    if channels not in MODES:
        raise ConfigError(f"image_folder: channels must be 1 or 3, got {channels!r}")
    if crop is not None and not (isinstance(crop, int) and crop >= 1):
        raise ConfigError(f"image_folder: crop must be a positive int or null, got {crop!r}")
    if not 0.0 < float(crop_pct) <= 1.0:
        raise ConfigError(f"image_folder: crop_pct must be in (0, 1], got {crop_pct!r}")
    mean, std = IMAGENET_MEAN_STD
    post: list = [parse_randaugment(randaugment, fill=mean, seed=seed)] if randaugment else []
    post += [Normalize(mean, std)] if normalize and channels == 3 else []
    post += [RandomErasing(reprob, mode=erase_mode, seed=seed)] if reprob > 0 else []
    return ImageFolderDataset(_split_folder(root, split), image_size, channels, crop, crop_pct, augment, post, seed)
