"""N-TIDIGITS reader (Anumula et al., Front. Neurosci. 2018): cochlea spikes of spoken digits.

Published file ``n-tidigits.hdf5`` (64-channel CochleaAMS1b recordings of TIDIGITS):

```
train_labels       (N,) byte strings: sample ids "<speaker>-<...>-<digits>", e.g. b"ae-o-1"
train_addresses/   one dataset per sample id: channel ids 0..63
train_timestamps/  one dataset per sample id: spike times in seconds
test_labels, test_addresses/, test_timestamps/   the same for the test split
```

The class is the digit string after the last ``-``. The LSM recipe (Lin et al. 2025) uses the
single-digit samples only: 11 classes ``z, 1..9, o`` mapped as the paper's code does, so that a
label is the spoken digit: "zero" (``z``) = 0, ``1``..``9`` = 1..9, "oh" (``o``) = 10. Frames are
``(T, 64)`` over each recording (``n_time_bins``, default 129), OR-pooled to binary when
``binary=True`` (the paper's setting).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import h5py
import numpy as np
import torch

from snnlab.data.base import EventFrameDataset, check_split
from snnlab.data.events import make_events
from snnlab.data.transforms import Compose, ToFrame
from snnlab.errors import DataError

FILENAME = "n-tidigits.hdf5"
SOURCE = "https://docs.google.com/document/d/1Uxe7GsKKXcy6SlDUX4hoJVAC0-UkH-8kr5UXp0Ndi1M (Anumula et al. 2018)"
N_CHANNELS = 64
CLASSES = ("z", "1", "2", "3", "4", "5", "6", "7", "8", "9", "o")  # index = label


def _locate(root: str | None) -> Path:
    """The HDF5 file: ``root`` itself or ``root/n-tidigits.hdf5``."""
    if root is None:
        raise DataError(f"ntidigits needs data.root: a folder with {FILENAME} from {SOURCE}")
    path = Path(root)
    path = path if path.is_file() else path / FILENAME
    if not path.is_file():
        raise DataError(f"ntidigits: {path} not found; download {FILENAME} from {SOURCE}")
    return path


def read_index(path: Path, split: str) -> tuple[list[str], np.ndarray]:
    """Ids and class labels of the single-digit samples of a split (digit sequences are skipped)."""
    try:
        with h5py.File(path, "r") as f:
            ids = [v.decode() if isinstance(v, bytes) else str(v) for v in f[f"{split}_labels"][()]]
    except (OSError, KeyError) as err:
        raise DataError(f"ntidigits: {path.name} is not a valid N-TIDIGITS file ({split}_labels: {err})") from None
    keep, labels = [], []
    for i, sid in enumerate(ids):
        digits = sid.split("-")[-1]
        if len(digits) != 1:
            continue
        if digits not in CLASSES:
            raise DataError(
                f"ntidigits: {path.name}: {split} sample {i} ({sid!r}) has label {digits!r}; "
                f"valid: {', '.join(CLASSES)}"
            )
        keep.append(sid)
        labels.append(CLASSES.index(digits))
    return keep, np.asarray(labels, dtype=np.int64)


class _Reader:
    """Reads one sample's events on demand from the file (validated: shapes, channels, times)."""

    def __init__(self, path: Path, split: str, ids: list[str]) -> None:
        self.path, self.split, self.ids = path, split, ids

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> np.ndarray:
        sid = self.ids[i]
        with h5py.File(self.path, "r") as f:
            try:
                ch = np.asarray(f[f"{self.split}_addresses/{sid}"][()], dtype=np.int64)
                ts = np.asarray(f[f"{self.split}_timestamps/{sid}"][()], dtype=np.float64)
            except KeyError as err:
                raise DataError(f"ntidigits: {self.path.name}: sample {i} ({sid!r}) lacks {err}") from None
        if ch.shape != ts.shape:
            raise DataError(
                f"ntidigits: {self.path.name}: sample {i} ({sid!r}) has {ch.size} addresses but {ts.size} timestamps"
            )
        if ch.size and (ch.min() < 0 or ch.max() >= N_CHANNELS):
            raise DataError(f"ntidigits: {self.path.name}: sample {i} ({sid!r}) has channel ids outside 0..63")
        if ts.size and (ts.min() < 0 or np.any(np.diff(ts) < 0)):
            raise DataError(f"ntidigits: {self.path.name}: sample {i} ({sid!r}) has negative or unsorted times")
        return make_events(np.round(ts * 1e6).astype(np.int64), ch)


class _Binarize:
    """OR-pooling of each bin: counts -> 0/1 (the paper's binary frames)."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return (x > 0).to(x.dtype)


def ntidigits_dataset(
    root: str | None,
    split: str = "train",
    n_time_bins: int = 129,
    binary: bool = True,
    frame_transform: Optional[Callable[[torch.Tensor], torch.Tensor]] = None,
) -> EventFrameDataset:
    """N-TIDIGITS single digits as frames ``(T, 64)``: T = ``n_time_bins`` over each recording.

    Args:
        root: the HDF5 file or the folder holding ``n-tidigits.hdf5``.
        split: "train" or "test".
        n_time_bins: bins from 0 to the last event of each recording (the paper: 129).
        binary: OR-pool each bin to 0/1.
        frame_transform: applied to each ``(T, 64)`` tensor after binning.

    Raises:
        DataError: missing or corrupt file; errors while reading name the file and the sample.
    """
    check_split("ntidigits", split, ("train", "test"))
    path = _locate(root)
    ids, labels = read_index(path, split)
    to_frame = ToFrame((N_CHANNELS, 1, 1), n_time_bins=n_time_bins)
    steps = [t for t in (_Binarize() if binary else None, frame_transform) if t is not None]
    transform = Compose(steps) if steps else None
    return EventFrameDataset(
        _Reader(path, split, ids),
        labels,
        to_frame,
        num_classes=len(CLASSES),
        frame_transform=transform,
        step_shape=(N_CHANNELS,),
        classes=CLASSES,
    )


def write_ntidigits(path: str | Path, samples: dict[str, list[tuple[str, np.ndarray, np.ndarray]]]) -> None:
    """Write a file in the published layout: ``{split: [(sample_id, channels, times_s), ...]}`` (tests, tools)."""
    with h5py.File(path, "w") as f:
        for split, items in samples.items():
            f.create_dataset(f"{split}_labels", data=np.array([sid.encode() for sid, _, _ in items]))
            for sid, ch, ts in items:
                f.create_dataset(f"{split}_addresses/{sid}", data=np.asarray(ch, dtype=np.uint8))
                f.create_dataset(f"{split}_timestamps/{sid}", data=np.asarray(ts, dtype=np.float32))
