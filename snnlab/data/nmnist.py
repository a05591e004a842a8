"""N-MNIST (Orchard et al. 2015): ATIS recordings of MNIST digits, three saccades each.

File format (one headerless ``.bin`` per recording): a stream of 5-byte (40-bit) events::

    byte0 = x (0..33)
    byte1 = y (0..33)
    byte2 = bit 7: polarity (1 = ON); bits 6..0: timestamp bits 22..16
    byte3 = timestamp bits 15..8
    byte4 = timestamp bits 7..0            t in microseconds, 23 bits

An event with ``y == 240`` is a timestamp-overflow marker: it is dropped, and
:data:`OVERFLOW_INCREMENT_US` (2**13, the value used by the dataset authors' reader and by
tonic) is added to the timestamps of every later event.

Layout under ``root``: ``Train/<digit>/<id>.bin`` (60,000) and ``Test/<digit>/<id>.bin``
(10,000); the label is the parent folder's name.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from snnlab.data.base import EventFrameDataset, check_split
from snnlab.data.events import EVENT_DTYPE
from snnlab.data.transforms import CenterCrop, Compose, Denoise, RefractoryFilter, ToFrame
from snnlab.errors import ConfigError, DataError

SENSOR_SIZE = (34, 34, 2)
EVENT_BYTES = 5
OVERFLOW_Y = 240
OVERFLOW_INCREMENT_US = 2**13
FIRST_SACCADE_US = 100_000
SOURCE = "https://www.garrickorchard.com/datasets/n-mnist (Mendeley Data 468j46mzdv): train.zip, test.zip"


def decode_nmnist(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode the bytes of an N-MNIST ``.bin`` file.

    Args:
        data: file content.
        name: file name used in error messages.

    Returns:
        Events (N,), dtype EVENT_DTYPE, overflow markers removed and applied.

    Raises:
        DataError: the length is not a multiple of 5 (truncated file), or an event lies
            outside the 34x34 sensor; the message names the file and the byte offset.
    """
    if len(data) % EVENT_BYTES:
        offset = len(data) - len(data) % EVENT_BYTES
        raise DataError(
            f"{name}: truncated N-MNIST file: {len(data)} bytes is not a multiple of 5; "
            f"the last event starting at byte offset {offset} is incomplete"
        )
    raw = np.frombuffer(data, dtype=np.uint8).reshape(-1, EVENT_BYTES).astype(np.int64)  # (N_raw, 5)
    x, y = raw[:, 0], raw[:, 1]
    t = ((raw[:, 2] & 0x7F) << 16) | (raw[:, 3] << 8) | raw[:, 4]
    marker = y == OVERFLOW_Y
    t = t + OVERFLOW_INCREMENT_US * np.cumsum(marker)  # a marker shifts itself and all later events
    _check_coordinates(x, y, marker, name)
    keep = ~marker
    events = np.empty(int(keep.sum()), dtype=EVENT_DTYPE)
    events["t"], events["x"], events["y"] = t[keep], x[keep], y[keep]
    events["p"] = raw[keep, 2] >> 7
    return events


def _check_coordinates(x: np.ndarray, y: np.ndarray, marker: np.ndarray, name: str) -> None:
    """Raise DataError at the first non-marker event outside the 34x34 sensor."""
    bad = ~marker & ((x >= SENSOR_SIZE[0]) | (y >= SENSOR_SIZE[1]))
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(
            f"{name}: event at byte offset {i * EVENT_BYTES} has (x, y) = ({x[i]}, {y[i]}); "
            f"N-MNIST coordinates lie in [0, 33] (y = 240 marks a timestamp overflow)"
        )


def read_nmnist(path: str | Path) -> np.ndarray:
    """Read one N-MNIST ``.bin`` file into events (see :func:`decode_nmnist`)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"N-MNIST file not found: {path}")
    return decode_nmnist(path.read_bytes(), name=str(path))


def list_nmnist(root: str | Path, split: str) -> tuple[list[Path], np.ndarray]:
    """Files and labels of ``root/Train`` or ``root/Test`` (label = digit folder name)."""
    folder = Path(root) / ("Train" if split == "train" else "Test")
    if not folder.is_dir():
        raise DataError(
            f"N-MNIST folder not found: {folder}; expected <root>/Train/<digit>/*.bin and "
            f"<root>/Test/<digit>/*.bin, unzipped from {SOURCE}"
        )
    files: list[Path] = []
    labels: list[int] = []
    for digit in range(10):
        found = sorted((folder / str(digit)).glob("*.bin"))
        files += found
        labels += [digit] * len(found)
    if not files:
        raise DataError(f"N-MNIST folder {folder} holds no <digit>/*.bin files (digits 0-9); get them from {SOURCE}")
    return files, np.asarray(labels, dtype=np.int64)


class _FileEvents:
    """Lazy ``index -> events`` over N-MNIST files, optionally keeping the first saccade."""

    def __init__(self, files: list[Path], first_saccade_only: bool) -> None:
        self.files, self.first_saccade_only = files, first_saccade_only

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> np.ndarray:
        events = read_nmnist(self.files[index])
        if self.first_saccade_only:
            events = events[events["t"] < FIRST_SACCADE_US]
        return events


def _event_pipeline(
    crop: int | None, refractory_us: float | None, denoise_us: float | None, event_transform
) -> tuple[Compose | None, tuple[int, int, int]]:
    """Deterministic preprocessing chain and the sensor size it produces."""
    steps, sensor = [], SENSOR_SIZE
    if denoise_us:
        steps.append(Denoise(denoise_us))
    if refractory_us:
        steps.append(RefractoryFilter(refractory_us))
    if crop is not None:
        steps.append(CenterCrop(SENSOR_SIZE, crop))
        sensor = (int(crop), int(crop), 2)
    if event_transform is not None:
        steps.append(event_transform)
    return (Compose(steps) if steps else None), sensor


def nmnist_dataset(
    root: str | None,
    split: str = "train",
    n_time_bins: int | None = 16,
    time_window_us: float | None = None,
    duration_us: float | None = None,
    first_saccade_only: bool = False,
    crop: int | None = None,
    refractory_us: float | None = None,
    denoise_us: float | None = None,
    event_transform=None,
    frame_transform=None,
    random_events: bool = False,
    cache: bool = True,
) -> EventFrameDataset:
    """N-MNIST as frames (T, 2, 34, 34), or (T, 2, crop, crop) with ``crop``.

    Args:
        root: folder holding ``Train/`` and ``Test/``.
        split: "train" or "test".
        n_time_bins: T bins (ignored when ``time_window_us`` is given).
        time_window_us: bin width in microseconds instead of a fixed T.
        duration_us: fixed span of the bins (defaults to 100 ms with ``first_saccade_only``,
            else the span up to the last event of each recording).
        first_saccade_only: keep events with t < 100 ms.
        crop: centre crop side (e.g. 16 for the LSM recipe's 16x16 input).
        refractory_us / denoise_us: optional RefractoryFilter / Denoise before binning.
        event_transform / frame_transform / random_events / cache: see EventFrameDataset.
    """
    if root is None:
        raise DataError(f"nmnist needs data.root: a folder with Train/ and Test/ from {SOURCE}")
    check_split("nmnist", split, ("train", "test"))
    if crop is not None and not 0 < int(crop) <= 34:
        raise ConfigError(f"nmnist crop must be in 1..34, got {crop}")
    files, labels = list_nmnist(root, split)
    if duration_us is None and first_saccade_only:
        duration_us = FIRST_SACCADE_US
    pipeline, sensor = _event_pipeline(crop, refractory_us, denoise_us, event_transform)
    binning = {"time_window": time_window_us} if time_window_us is not None else {"n_time_bins": n_time_bins}
    to_frame = ToFrame(sensor, duration=duration_us, **binning)
    return EventFrameDataset(
        _FileEvents(files, first_saccade_only),
        labels,
        to_frame,
        num_classes=10,
        event_transform=pipeline,
        frame_transform=frame_transform,
        random_events=random_events,
        cache=cache,
    )
