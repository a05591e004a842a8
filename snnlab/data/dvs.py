"""CIFAR10-DVS and DVS128 Gesture: DVS128 recordings (128 x 128 x 2) as frames, the Max-Former way.

Layouts under ``root`` (as the archives unpack):

- CIFAR10-DVS (Li et al. 2017, figshare): ``<class>/cifar10_<class>_<i>.aedat`` (AEDAT 2.0), ten class
  folders of 1,000 recordings. Split as the Max-Former code does (spikingjelly order, files sorted
  by name within a class): the first 90 % of every class train, the rest test.
- DVS128 Gesture (Amir et al. 2017, IBM): ``DvsGesture/`` (or ``root`` itself) with
  ``userNN_<lighting>.aedat`` (AEDAT 3.1), ``userNN_<lighting>_labels.csv`` (``class,
  startTime_usec, endTime_usec``, classes 1..11) and ``trials_to_train.txt`` / ``trials_to_test.txt``.
  A sample is a csv row: the events with ``start <= t < end``, times from the row's start.

"valid" is a fixed part of the training samples (``valid_size``, balanced over classes, seed 0);
"train" keeps it unless ``holdout_valid=True``. Frames: ``split_by="number"`` (the paper's, via
spikingjelly) bins every recording into ``T`` frames of equal event counts (event ``i`` of ``N``
goes to frame ``floor(i T / N)``); ``split_by="time"`` into ``T`` equal time bins. Items are
``(T, 2, 128, 128)`` event counts.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import numpy as np

from snnlab.data.aedat import read_aedat31, read_cifar10dvs
from snnlab.data.augment import RandomHorizontalFlip
from snnlab.data.base import EventFrameDataset, check_split
from snnlab.data.idx import valid_indices
from snnlab.data.transforms import ToFrame
from snnlab.errors import ConfigError, DataError

CIFAR10DVS_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
GESTURE_CLASSES = (
    "hand clap",
    "right hand wave",
    "left hand wave",
    "right arm clockwise",
    "right arm counter clockwise",
    "left arm clockwise",
    "left arm counter clockwise",
    "arm roll",
    "air drums",
    "air guitar",
    "other gestures",
)
SENSOR = (128, 128, 2)
SPLITS = ("train", "valid", "test")
RANK_SPAN_US = 1_000_000.0  # event ranks are spread over this span for split_by="number"


def by_event_number(events: np.ndarray) -> np.ndarray:
    """Event ``i`` of ``N`` gets time ``i / N`` of :data:`RANK_SPAN_US`: equal-count time bins."""
    out = events.copy()
    out["t"] = (np.arange(len(events)) * (RANK_SPAN_US / max(len(events), 1))).astype(out["t"].dtype)
    return out


def list_cifar10dvs(root: str | Path, split: str, train_ratio: float = 0.9) -> tuple[list[Path], np.ndarray]:
    """Files and labels of the "train" (first 90 % per class) or "test" part."""
    root = Path(root)
    files, labels = [], []
    for label, name in enumerate(CIFAR10DVS_CLASSES):
        found = sorted((root / name).glob("*.aedat"), key=lambda p: p.stem)
        if not found:
            raise DataError(f"cifar10dvs: no {name}/*.aedat under {root}; unzip the ten class archives there")
        cut = int(np.ceil(len(found) * train_ratio))
        part = found[:cut] if split == "train" else found[cut:]
        files += part
        labels += [label] * len(part)
    return files, np.asarray(labels, np.int64)


def _gesture_folder(root: Path) -> Path:
    for cand in (root / "DvsGesture", root):
        if (cand / "trials_to_train.txt").is_file():
            return cand
    raise DataError(
        f"dvs128_gesture: no trials_to_train.txt under {root} or {root / 'DvsGesture'}; unpack DvsGesture.tar.gz there"
    )


def read_gesture_labels(path: Path) -> list[tuple[int, int, int]]:
    """``(label 0..10, start_us, end_us)`` rows of a ``*_labels.csv`` file."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except FileNotFoundError as err:
        raise DataError(f"dvs128_gesture: labels file not found: {path}") from err
    out = []
    for i, row in enumerate(rows[1:], start=2):
        try:
            label, start, end = (int(v) for v in row[:3])
        except ValueError:
            raise DataError(
                f"{path}: line {i}: expected 'class,startTime_usec,endTime_usec' integers, got {row}"
            ) from None
        if not 1 <= label <= 11 or end <= start:
            raise DataError(f"{path}: line {i}: class must be 1..11 and end > start, got {row}")
        out.append((label - 1, start, end))
    return out


def list_gesture(root: str | Path, split: str) -> list[tuple[Path, int, int, int]]:
    """``(aedat file, label, start_us, end_us)`` of every sample of the trials of "train" or "test"."""
    folder = _gesture_folder(Path(root))
    trials = (folder / f"trials_to_{split}.txt").read_text().split()
    samples = []
    for trial in trials:
        aedat = folder / trial
        samples += [(aedat, *row) for row in read_gesture_labels(folder / f"{Path(trial).stem}_labels.csv")]
    return samples


@lru_cache(maxsize=2)
def _recording(path: Path) -> np.ndarray:
    return read_aedat31(path)


def _gesture_sample(sample: tuple[Path, int, int, int]) -> np.ndarray:
    """The events of one gesture sample ``(file, label, start_us, end_us)``, times from its start."""
    path, _, start, end = sample
    ev = _recording(path)
    ev = ev[(ev["t"] >= start) & (ev["t"] < end)].copy()
    ev["t"] -= start
    return ev


class _FileEvents:
    """Lazy ``index -> reader(items[index])`` (a recording file, or a gesture sample)."""

    def __init__(self, files: list[Any], reader: Callable[[Any], np.ndarray]) -> None:
        self.files, self.reader = files, reader

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> np.ndarray:
        return self.reader(self.files[index])


def _select(split: str, labels: np.ndarray, valid_size: int, holdout_valid: bool) -> np.ndarray:
    if split == "test" or (split == "train" and not holdout_valid):
        return np.arange(len(labels))
    valid = valid_indices(labels, valid_size)
    return valid if split == "valid" else np.setdiff1d(np.arange(len(labels)), valid)


def _frames(T: int, split_by: str, duration_us: float | None) -> tuple[ToFrame, Any]:
    if split_by == "number":
        return ToFrame(SENSOR, n_time_bins=T, duration=RANK_SPAN_US), by_event_number
    if split_by == "time":
        return ToFrame(SENSOR, n_time_bins=T, duration=duration_us), None
    raise ConfigError(f"split_by must be 'number' or 'time', got {split_by!r}")


def _dataset(
    name: str,
    events,
    labels: np.ndarray,
    split: str,
    T: int,
    split_by: str,
    duration_us,
    valid_size: int,
    holdout_valid: bool,
    classes,
    frame_transform,
    flip: bool,
    seed,
) -> EventFrameDataset:
    check_split(name, split, SPLITS)
    if flip:  # mirror every frame of a sample together, after the frame cache
        frame_transform = RandomHorizontalFlip(0.5, seed=seed) if frame_transform is None else frame_transform
    idx = _select(split, labels, valid_size, holdout_valid)
    to_frame, event_transform = _frames(T, split_by, duration_us)
    ds = EventFrameDataset(
        _Indexed(events, idx),
        labels[idx],
        to_frame,
        len(classes),
        event_transform=event_transform,
        frame_transform=frame_transform,
        classes=classes,
    )
    ds.contains_valid = split == "train" and not holdout_valid
    return ds


class _Indexed:
    def __init__(self, events, idx: np.ndarray) -> None:
        self.events, self.idx = events, idx

    def __len__(self) -> int:
        return len(self.idx)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.events[int(self.idx[i])]


def cifar10dvs_dataset(
    root: str | None = None,
    split: str = "train",
    T: int = 16,
    split_by: str = "number",
    duration_us: float | None = None,
    valid_size: int = 900,
    holdout_valid: bool = False,
    frame_transform=None,
    flip: bool = False,
    seed: int | None = None,
) -> EventFrameDataset:
    """CIFAR10-DVS as frames ``(T, 2, 128, 128)``; see the module docstring for splits and binning;
    ``flip`` mirrors a sample's frames left-right with probability 0.5."""
    if root is None:
        raise DataError(
            "cifar10dvs needs data.root: the folder with the ten unzipped class folders "
            "(https://figshare.com/s/d03a91081824536f12a8)"
        )
    files, labels = list_cifar10dvs(root, "test" if split == "test" else "train")
    return _dataset(
        "cifar10dvs",
        _FileEvents(files, read_cifar10dvs),
        labels,
        split,
        T,
        split_by,
        duration_us,
        valid_size,
        holdout_valid,
        CIFAR10DVS_CLASSES,
        frame_transform,
        flip,
        seed,
    )


def dvs128_gesture_dataset(
    root: str | None = None,
    split: str = "train",
    T: int = 16,
    split_by: str = "number",
    duration_us: float | None = None,
    valid_size: int = 100,
    holdout_valid: bool = False,
    frame_transform=None,
    flip: bool = False,
    seed: int | None = None,
) -> EventFrameDataset:
    """DVS128 Gesture as frames ``(T, 2, 128, 128)``; see the module docstring for splits and binning;
    ``flip`` mirrors a sample's frames left-right with probability 0.5."""
    if root is None:
        raise DataError(
            "dvs128_gesture needs data.root: the folder holding DvsGesture/ "
            "(https://research.ibm.com/interactive/dvsgesture/)"
        )
    samples = list_gesture(root, "test" if split == "test" else "train")
    labels = np.asarray([s[1] for s in samples], np.int64)
    return _dataset(
        "dvs128_gesture",
        _FileEvents(samples, _gesture_sample),
        labels,
        split,
        T,
        split_by,
        duration_us,
        valid_size,
        holdout_valid,
        GESTURE_CLASSES,
        frame_transform,
        flip,
        seed,
    )


__all__ = [
    "by_event_number",
    "cifar10dvs_dataset",
    "dvs128_gesture_dataset",
    "list_cifar10dvs",
    "list_gesture",
    "read_gesture_labels",
]
