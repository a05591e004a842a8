"""Folders of PNG/JPEG images (CelebA ``img_align_celeba/``, LSUN exports, any class-per-folder tree).

Layout: ``root/<split>/`` when that folder exists, else ``root/`` itself for ``split="train"``.
Images are found recursively (sorted paths); when they sit in first-level sub-folders, each
sub-folder is a class (sorted names), otherwise every label is 0. An item is
``(x, y)`` with ``x`` float32 ``(C, S, S)`` in [0, 1]: the image is centre-cropped to
``crop`` pixels (a square of the shorter side when ``crop`` is None; CelebA uses 148),
then resized to ``image_size`` (64 for CelebA and LSUN in the diffusion papers).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch

from snnlab.errors import ConfigError, DataError

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
    raise DataError(f"image_folder: {base} has no '{split}' sub-folder; valid: train (the folder itself) "
                    "or the sub-folders it holds")


class ImageFolderDataset(torch.utils.data.Dataset):
    """Images of one folder, decoded on access with Pillow."""

    def __init__(self, folder: Path, image_size: int, channels: int, crop: Optional[int]) -> None:
        self.paths = list_images(folder)
        if not self.paths:
            raise DataError(f"image_folder: no {'/'.join(EXTENSIONS)} files under {folder}")
        rel = [p.relative_to(folder).parts for p in self.paths]
        self.classes = sorted({r[0] for r in rel if len(r) > 1})
        index = {c: i for i, c in enumerate(self.classes)}
        self.labels = [index[r[0]] if len(r) > 1 else 0 for r in rel]
        self.image_size, self.channels, self.crop = image_size, channels, crop
        self.num_classes = max(len(self.classes), 1)
        self.input_shape = (channels, image_size, image_size)
        self.timesteps = None
        self.collate_fn = None

    def __len__(self) -> int:
        return len(self.paths)

    def _load(self, path: Path) -> np.ndarray:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as img:
                img = img.convert(MODES[self.channels])
                w, h = img.size
                side = min(self.crop or min(w, h), w, h)
                left, top = (w - side) // 2, (h - side) // 2
                img = img.crop((left, top, left + side, top + side))
                img = img.resize((self.image_size, self.image_size), Image.BICUBIC)
                arr = np.asarray(img, dtype=np.uint8)
        except (UnidentifiedImageError, OSError) as err:
            raise DataError(f"{path}: not a readable image ({err})") from None
        return arr[:, :, None] if arr.ndim == 2 else arr  # (S, S, C)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        arr = self._load(self.paths[index])
        x = torch.from_numpy(arr.transpose(2, 0, 1).copy()).float() / 255.0  # (C, S, S)
        return x, self.labels[index]


def image_folder_dataset(root: str | None = None, split: str = "train", image_size: int = 64, channels: int = 3,
                         crop: Optional[int] = None) -> ImageFolderDataset:
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
    return ImageFolderDataset(_split_folder(root, split), image_size, channels, crop)
