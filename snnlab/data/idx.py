"""IDX files (MNIST, Fashion-MNIST) and the image datasets built on them.

IDX format (LeCun et al., the MNIST page): a 4-byte magic number ``00 00 TT NN`` with ``TT``
the element type (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64)
and ``NN`` the number of dimensions, then ``NN`` big-endian uint32 sizes, then the elements,
big-endian, row-major. A file may be gzip-compressed (``.gz``), as the datasets ship.

Layout under ``root`` (MNIST and Fashion-MNIST use the same four names, each with or without
``.gz``)::

    train-images-idx3-ubyte  train-labels-idx1-ubyte  t10k-images-idx3-ubyte  t10k-labels-idx1-ubyte

``root=None`` for Fashion-MNIST is the Debian package ``dataset-fashion-mnist``'s folder
(``make data`` installs it). Splits: "train" (60,000), "valid" (a fixed held-out part of train:
``valid_size`` samples, 500 per class by default, drawn once with seed 0) and "test" (10,000).
As for the other readers, "train" keeps the validation samples unless ``holdout_valid=True``.

Items are static images ``(1, 28, 28)`` float32 in [0, 1] (optionally augmented and normalised)
and an int label; ``timesteps=T`` gives ``(T, 1, 28, 28)`` items by direct encoding.
"""

from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from snnlab.data.augment import DirectEncode, Normalize, RandomCrop, RandomHorizontalFlip
from snnlab.data.base import check_split
from snnlab.data.collate import collate_static, collate_time_major
from snnlab.data.image_augment import augment_steps
from snnlab.data.transforms import Compose
from snnlab.errors import ConfigError, DataError

DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
SOURCES = {
    "fashion_mnist": "https://github.com/zalandoresearch/fashion-mnist (Debian: apt-get install dataset-fashion-mnist, "
    "or `make data`)",
    "mnist": "http://yann.lecun.com/exdb/mnist/",
}
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
CLASSES = {
    "fashion_mnist": [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ],
    "mnist": [str(i) for i in range(10)],
}
MEAN_STD = {"fashion_mnist": ((0.2860,), (0.3530,)), "mnist": ((0.1307,), (0.3081,))}
SPLITS = ("train", "valid", "test")
SPLIT_SEED = 0


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
        return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    except FileNotFoundError as err:
        raise DataError(f"IDX file not found: {path}") from err
    except (OSError, EOFError) as err:  # truncated or corrupt gzip stream
        raise DataError(f"{path}: not a readable gzip stream ({err})") from err


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (plain or gzip) into a numpy array in native byte order.

    Raises:
        DataError: missing file, wrong magic number, unknown type code, or fewer bytes than
            the header's dimensions need (the message names the file).
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in DTYPES:
        magic = data[:4].hex() if len(data) >= 4 else f"{len(data)} bytes"
        raise DataError(
            f"{path}: not an IDX file (magic {magic}; valid: 0000TTNN with type TT in "
            f"{', '.join(f'{c:02x}' for c in DTYPES)})"
        )
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path}: truncated IDX header ({len(data)} bytes, {ndim} dimensions need {header})")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(DTYPES[data[2]])
    need = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(data) < need:
        raise DataError(f"{path}: truncated IDX file ({len(data)} bytes, dimensions {dims} need {need})")
    arr = np.frombuffer(data, dtype=dtype, count=int(np.prod(dims, dtype=np.int64)), offset=header)
    return arr.reshape(dims).astype(dtype.newbyteorder("="))


def write_idx(path: str | Path, array: np.ndarray) -> Path:
    """Write ``array`` as an IDX file (gzip-compressed when ``path`` ends in ``.gz``).

    Raises:
        DataError: the dtype has no IDX type code (valid: uint8, int8, int16, int32, float32, float64).
    """
    array = np.asarray(array)
    codes = {np.dtype(v).newbyteorder("="): k for k, v in DTYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        raise DataError(
            f"{path}: dtype {array.dtype} has no IDX type code; valid: uint8, int8, int16, int32, float32, float64"
        )
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    body = header + np.ascontiguousarray(array, dtype=DTYPES[code]).tobytes()
    path = Path(path)
    path.write_bytes(gzip.compress(body) if path.suffix == ".gz" else body)
    return path


def find_file(root: Path, stem: str) -> Path:
    """``root/stem`` or ``root/stem.gz``, whichever exists (DataError naming both if neither)."""
    for cand in (root / stem, root / f"{stem}.gz"):
        if cand.is_file():
            return cand
    raise DataError(f"IDX file not found: {root / stem}[.gz]")


@lru_cache(maxsize=4)
def _load_split_cached(images: str, labels: str, stamp: tuple) -> tuple[np.ndarray, np.ndarray]:
    del stamp  # part of the cache key only: a rewritten file is read again
    x, y = read_idx(images), read_idx(labels)
    if x.ndim != 3 or x.dtype != np.uint8:
        raise DataError(f"{images}: images must be (N, H, W) uint8, got {x.shape} {x.dtype}")
    if y.ndim != 1 or y.dtype != np.uint8 or len(y) != len(x):
        raise DataError(
            f"{labels}: labels must be ({len(x)},) uint8 to match {Path(images).name}, got {y.shape} {y.dtype}"
        )
    if len(y) and y.max() >= 10:
        raise DataError(f"{labels}: label {int(y.max())} out of range; valid labels: 0..9")
    return x, y.astype(np.int64)


def load_split(root: str | Path, part: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, H, W) uint8 and labels (N,) int64 of the "train" or "test" files under ``root``."""
    paths = [find_file(Path(root), stem) for stem in FILES[part]]
    stamp = tuple((p.stat().st_mtime_ns, p.stat().st_size) for p in paths)
    return _load_split_cached(str(paths[0]), str(paths[1]), stamp)


def valid_indices(labels: np.ndarray, valid_size: int) -> np.ndarray:
    """Sorted indices of the fixed validation part of train: ``valid_size`` samples, as equal
    per class as the counts allow, drawn with a generator seeded :data:`SPLIT_SEED`."""
    rng = np.random.default_rng(SPLIT_SEED)
    order = rng.permutation(len(labels))
    classes = np.unique(labels)
    per_class = valid_size // len(classes)
    extra = valid_size - per_class * len(classes)
    picked = []
    for i, c in enumerate(classes):
        members = order[labels[order] == c]
        picked.append(members[: per_class + (1 if i < extra else 0)])
    return np.sort(np.concatenate(picked))


def split_indices(labels: np.ndarray, split: str, valid_size: int, holdout_valid: bool) -> np.ndarray:
    """Indices into the train (or test) files of ``split``."""
    if split == "test" or (split == "train" and not holdout_valid):
        return np.arange(len(labels))
    valid = valid_indices(labels, valid_size)
    if split == "valid":
        return valid
    return np.setdiff1d(np.arange(len(labels)), valid)


class IdxImageDataset(torch.utils.data.Dataset):
    """Grey-level images from IDX files; build it with :func:`idx_dataset`."""

    def __init__(
        self, images: np.ndarray, labels: np.ndarray, classes: list[str], transform: Compose, timesteps: int | None
    ) -> None:
        self.images = torch.from_numpy(np.ascontiguousarray(images))  # (N, H, W) uint8
        self.labels = labels
        self.classes = classes
        self.num_classes = len(classes)
        self.input_shape = (1, *images.shape[1:])
        self.timesteps = timesteps
        self.static = timesteps is None
        self.transform = transform
        self.collate_fn = collate_static if timesteps is None else collate_time_major

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        x = self.images[index].float().unsqueeze(0) / 255.0  # (1, H, W)
        return self.transform(x), int(self.labels[index])


def _root_of(kind: str, root: str | None) -> Path:
    if root is not None:
        return Path(root)
    if kind == "fashion_mnist":
        return Path(DEBIAN_FASHION_MNIST)
    raise DataError(
        f"{kind} needs data.root: a folder with {FILES['train'][0]}[.gz] and the other three IDX files "
        f"from {SOURCES[kind]}"
    )


def _transform(
    kind: str,
    augment: bool,
    normalize: bool,
    padding: int,
    flip: bool,
    timesteps: int | None,
    seed: int | None,
    size: int,
    randaugment: str | None,
    reprob: float,
) -> Compose:
    steps: list = []
    if augment:
        steps.append(RandomCrop(size, padding=padding, seed=seed))
        if flip:
            steps.append(RandomHorizontalFlip(0.5, seed=None if seed is None else seed + 1))
    before, after = augment_steps(randaugment, reprob, MEAN_STD[kind][0], seed)
    steps += before
    if normalize:
        steps.append(Normalize(*MEAN_STD[kind]))
    steps += after
    if timesteps is not None:
        steps.append(DirectEncode(timesteps))
    return Compose(steps)


def idx_dataset(
    root: str | None = None,
    split: str = "train",
    kind: str = "fashion_mnist",
    valid_size: int = 5000,
    holdout_valid: bool = False,
    augment: bool = False,
    normalize: bool = False,
    padding: int = 2,
    flip: bool = False,
    timesteps: int | None = None,
    seed: int | None = None,
    randaugment: str | None = None,
    reprob: float = 0.0,
) -> IdxImageDataset:
    """MNIST or Fashion-MNIST from IDX files as a dataset.

    Args:
        root: folder with the four IDX files; None: the Debian package's folder (Fashion-MNIST).
        split: "train", "valid" or "test".
        kind: "fashion_mnist" or "mnist".
        valid_size: samples of the held-out validation part of train (500 per class by default).
        holdout_valid: "train" leaves out the "valid" samples.
        augment: random crop with ``padding`` zero pixels (+ horizontal flip if ``flip``).
        normalize: subtract the dataset's mean and divide by its std (off: pixels in [0, 1]).
        timesteps: T for direct encoding in the dataset (items (T, 1, 28, 28)); None: static.
        seed: seed of the augmentation generators.
        randaugment: timm RandAugment string (e.g. "rand-m9-n1-mstd0.4-inc1"), after crop/flip.
        reprob: random-erasing probability, after normalisation.
    """
    check_split(kind, split, SPLITS)
    if isinstance(valid_size, bool) or not isinstance(valid_size, int) or valid_size < 1:
        raise ConfigError(f"{kind}: valid_size must be a positive integer, got {valid_size!r}")
    images, labels = load_split(_root_of(kind, root), "test" if split == "test" else "train")
    if (split == "valid" or (split == "train" and holdout_valid)) and valid_size >= len(labels):
        raise ConfigError(f"{kind}: valid_size {valid_size} must be below the {len(labels)} training samples")
    idx = split_indices(labels, split, valid_size, holdout_valid)
    transform = _transform(
        kind, augment, normalize, padding, flip, timesteps, seed, images.shape[1], randaugment, reprob
    )
    ds = IdxImageDataset(images[idx], labels[idx], CLASSES[kind], transform, timesteps)
    ds.contains_valid = split == "train" and not holdout_valid  # the trainer refuses to validate on seen samples
    ds.indices = idx  # positions in the train (or test) files
    return ds


__all__ = ["IdxImageDataset", "idx_dataset", "load_split", "read_idx", "valid_indices", "write_idx"]
