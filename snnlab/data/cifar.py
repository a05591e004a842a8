"""CIFAR-10 / CIFAR-100 from the official "python version" pickle batches.

Layout under ``root`` (the unpacked archives; ``root`` may also be the inner folder)::

    cifar-10-batches-py/data_batch_1 .. data_batch_5, test_batch, batches.meta
    cifar-100-python/train, test, meta

Each batch is a pickled dict: ``data`` (N, 3072) uint8 (1024 red, 1024 green, 1024 blue
values, row-major 32x32), ``labels`` (CIFAR-10) or ``fine_labels``/``coarse_labels``
(CIFAR-100). The files are read with a restricted unpickler that only rebuilds numpy
arrays and plain Python containers; any other global in a file is refused, so a tampered
file cannot run code.

Validation split (CIFAR ships none): ``split="valid"`` is a fixed 10 % of the training images
(:data:`VALID_FRACTION`, drawn with seed :data:`VALID_SEED`); ``split="train"`` keeps all of them
unless ``holdout_valid=True`` removes those (set it through ``data.train_options``).

Items are static images ``(3, 32, 32)`` float32 in [0, 1], then (train split, ``augment``)
random crop with 4-pixel zero padding and horizontal flip, then per-channel normalisation
with the dataset's mean/std. Spiking models see them over T steps by direct encoding:
:class:`snnlab.data.DirectEncode` on the batch, or ``timesteps=T`` here for ``(T, 3, 32, 32)``
items.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from snnlab.data.augment import DirectEncode, Normalize, RandomCrop, RandomHorizontalFlip
from snnlab.data.base import check_split
from snnlab.data.collate import collate_static, collate_time_major
from snnlab.data.image_augment import augment_steps
from snnlab.data.transforms import Compose
from snnlab.errors import DataError

SOURCE = "https://www.cs.toronto.edu/~kriz/cifar.html"
LAYOUT = {
    "cifar10": {
        "folder": "cifar-10-batches-py",
        "train": [f"data_batch_{i}" for i in range(1, 6)],
        "test": ["test_batch"],
        "meta": "batches.meta",
        "labels": "labels",
        "names": "label_names",
        "classes": 10,
        "archive": "cifar-10-python.tar.gz",
    },
    "cifar100": {
        "folder": "cifar-100-python",
        "train": ["train"],
        "test": ["test"],
        "meta": "meta",
        "labels": "fine_labels",
        "names": "fine_label_names",
        "classes": 100,
        "archive": "cifar-100-python.tar.gz",
    },
}
MEAN_STD = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class SafeUnpickler(pickle.Unpickler):
    """Unpickler that only resolves numpy array reconstruction and ``_codecs.encode``."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"global '{module}.{name}' is not allowed in a CIFAR batch")
        return super().find_class(module, name)


def load_pickle(path: Path) -> dict[str, Any]:
    """Read one pickled batch dict safely; bytes keys become str."""
    try:
        obj = SafeUnpickler(io.BytesIO(path.read_bytes()), encoding="latin1").load()
    except FileNotFoundError as err:
        raise DataError(f"CIFAR file not found: {path}; get the python version from {SOURCE}") from err
    except Exception as err:  # any unpickling failure is a bad file, reported as such
        raise DataError(f"{path}: not a readable CIFAR batch ({type(err).__name__}: {err})") from err
    if not isinstance(obj, dict):
        raise DataError(f"{path}: expected a pickled dict, got {type(obj).__name__}")
    return {k.decode("latin1") if isinstance(k, bytes) else str(k): v for k, v in obj.items()}


def _folder(root: Path, kind: str) -> Path:
    spec = LAYOUT[kind]
    for cand in (root / spec["folder"], root):
        if (cand / spec["meta"]).is_file():
            return cand
    raise DataError(
        f"{kind}: no {spec['folder']}/{spec['meta']} under {root}; unpack {spec['archive']} "
        f"from {SOURCE} into data.root"
    )


def read_batches(root: str | Path, kind: str, split: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Images (N, 3, 32, 32) uint8, labels (N,) int64 and class names of a split."""
    spec = LAYOUT[kind]
    folder = _folder(Path(root), kind)
    images, labels = [], []
    for name in spec[split]:
        path = folder / name
        batch = load_pickle(path)
        data = np.asarray(batch.get("data"))
        if data.ndim != 2 or data.shape[1] != 3072 or data.dtype != np.uint8:
            raise DataError(f"{path}: field 'data' must be (N, 3072) uint8, got {data.shape} {data.dtype}")
        lab = np.asarray(batch.get(spec["labels"], []), dtype=np.int64)
        if lab.shape != (len(data),) or (lab.size and (lab.min() < 0 or lab.max() >= spec["classes"])):
            raise DataError(f"{path}: field '{spec['labels']}' must hold {len(data)} ids in 0..{spec['classes'] - 1}")
        images.append(data.reshape(-1, 3, 32, 32))
        labels.append(lab)
    meta = load_pickle(folder / spec["meta"])
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in meta.get(spec["names"], [])]
    return np.concatenate(images), np.concatenate(labels), names


class CifarDataset(torch.utils.data.Dataset):
    """CIFAR images; build it with :func:`cifar_dataset`."""

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        kind: str,
        classes: list[str],
        transform: Compose,
        timesteps: int | None,
    ) -> None:
        self.images = torch.from_numpy(images)  # (N, 3, 32, 32) uint8
        self.labels = labels
        self.num_classes = LAYOUT[kind]["classes"]
        self.classes = classes
        self.input_shape = (3, 32, 32)
        self.timesteps = timesteps
        self.static = timesteps is None
        self.transform = transform
        self.collate_fn = collate_static if timesteps is None else collate_time_major

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        x = self.images[index].float() / 255.0  # (3, 32, 32)
        return self.transform(x), int(self.labels[index])


VALID_FRACTION, VALID_SEED = 0.1, 0


def valid_mask(n: int) -> np.ndarray:
    """Boolean mask (n,) of the training images that form the fixed validation split."""
    mask = np.zeros(n, bool)
    mask[np.random.default_rng(VALID_SEED).permutation(n)[: round(VALID_FRACTION * n)]] = True
    return mask


def cifar_dataset(
    root: str | None,
    split: str = "train",
    kind: str = "cifar10",
    augment: bool | None = None,
    normalize: bool = True,
    mean=None,
    std=None,
    padding: int = 4,
    flip: bool = True,
    timesteps: int | None = None,
    seed: int | None = None,
    holdout_valid: bool = False,
    randaugment: str | None = None,
    reprob: float = 0.0,
) -> CifarDataset:
    """CIFAR-10/100 as a dataset.

    Args:
        root: folder holding ``cifar-10-batches-py/`` or ``cifar-100-python/``.
        split: "train", "valid" (a fixed 10 % of the training images) or "test".
        kind: "cifar10" or "cifar100" (fine labels).
        augment: random crop (``padding``) + horizontal flip (``flip``); default on for train.
        normalize: subtract ``mean`` and divide by ``std`` (defaults: the dataset's).
        timesteps: T for direct encoding in the dataset (items (T, 3, 32, 32)); None: static.
        seed: seed of the augmentation generators.
        holdout_valid: "train" leaves out the "valid" images (other splits ignore it).
        randaugment: timm RandAugment string (e.g. "rand-m9-n1-mstd0.4-inc1"), after crop/flip.
        reprob: random-erasing probability, after normalisation.
    """
    if root is None:
        raise DataError(f"{kind} needs data.root: a folder with {LAYOUT[kind]['folder']}/ from {SOURCE}")
    check_split(kind, split, ("train", "valid", "test"))
    images, labels, classes = read_batches(root, kind, "test" if split == "test" else "train")
    if split == "valid" or (split == "train" and holdout_valid):
        keep = valid_mask(len(labels)) == (split == "valid")
        images, labels = images[keep], labels[keep]
    steps: list = []
    if augment if augment is not None else split == "train":
        steps.append(RandomCrop(32, padding=padding, seed=seed))
        if flip:
            steps.append(RandomHorizontalFlip(0.5, seed=None if seed is None else seed + 1))
    d_mean, d_std = MEAN_STD[kind]
    before, after = augment_steps(randaugment, reprob, mean or d_mean, seed)
    steps += before
    if normalize:
        steps.append(Normalize(mean or d_mean, std or d_std))
    steps += after
    if timesteps is not None:
        steps.append(DirectEncode(timesteps))
    ds = CifarDataset(images, labels, kind, classes, Compose(steps), timesteps)
    ds.contains_valid = split == "train" and not holdout_valid  # the trainer refuses to validate on seen images
    return ds
