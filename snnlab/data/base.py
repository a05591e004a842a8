"""The dataset class shared by the event readers: events -> frames -> time-major tensors.

An :class:`EventFrameDataset` holds event streams (an :class:`EventStore` or a loader function),
integer labels and a :class:`ToFrame`. Item ``i`` is ``(x, y)`` with ``x`` float32
``(T, *input_shape)`` and ``y`` an int. Deterministic frames are cached in memory after the
first epoch; random event transforms switch that cache off, random frame transforms
(masks) run after it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from snnlab.data.collate import collate_time_major
from snnlab.data.transforms import ToFrame
from snnlab.errors import ConfigError, DataError

SPLITS = ("train", "valid", "test")


def check_split(dataset: str, split: str, valid: Sequence[str]) -> str:
    """Return ``split`` or raise DataError naming the splits ``dataset`` has."""
    if split not in valid:
        raise DataError(f"dataset '{dataset}' has no split '{split}'; valid splits: {', '.join(valid)}")
    return split


class EventFrameDataset(torch.utils.data.Dataset):
    """Event streams binned into frames.

    Args:
        events: indexable of event arrays (EventStore, list) or a function ``i -> events``.
        labels: class index of each sample, shape (N,).
        to_frame: the binning transform.
        num_classes: number of classes.
        event_transform: applied to the events before binning (deterministic unless
            ``random_events`` is set).
        frame_transform: applied to each float32 tensor (T, ...) after binning/caching.
        step_shape: reshape each step to this (e.g. (140,) for SHD); default ToFrame's.
        cache: keep binned frames in memory (ignored when ``random_events``).
        random_events: the event transform is random (disables the frame cache).
        classes: class names, index = label.
    """

    def __init__(
        self,
        events: Sequence[np.ndarray] | Callable[[int], np.ndarray],
        labels: np.ndarray,
        to_frame: ToFrame,
        num_classes: int,
        event_transform: Callable[[np.ndarray], np.ndarray] | None = None,
        frame_transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        step_shape: tuple[int, ...] | None = None,
        cache: bool = True,
        random_events: bool = False,
        classes: Sequence[str] | None = None,
    ) -> None:
        self._events = events
        self.labels = np.asarray(labels, dtype=np.int64)
        self.to_frame = to_frame
        self.num_classes = int(num_classes)
        self.event_transform = event_transform
        self.frame_transform = frame_transform
        self.input_shape = tuple(step_shape) if step_shape is not None else to_frame.frame_shape()
        if int(np.prod(self.input_shape)) != int(np.prod(to_frame.frame_shape())):
            raise ConfigError(f"step_shape {self.input_shape} does not hold a frame of {to_frame.frame_shape()}")
        self.timesteps = to_frame.timesteps()
        self.classes = list(classes) if classes is not None else [str(c) for c in range(self.num_classes)]
        self.use_cache = cache and not random_events
        self._cache: dict[int, np.ndarray] = {}
        self.collate_fn = collate_time_major

    def __len__(self) -> int:
        return len(self.labels)

    def events(self, index: int) -> np.ndarray:
        """Raw event array of sample ``index`` (before any transform)."""
        if callable(self._events):
            return self._events(index)
        return self._events[index]

    def frames(self, index: int) -> np.ndarray:
        """Binned frames (T, *input_shape) of sample ``index``, float32, from the cache when possible."""
        if self.use_cache and index in self._cache:
            return self._cache[index]
        ev = self.events(index)
        if self.event_transform is not None:
            ev = self.event_transform(ev)
        frames = self.to_frame(ev)
        frames = frames.reshape((frames.shape[0], *self.input_shape))
        if self.use_cache:
            self._cache[index] = frames
        return frames

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        index = index % len(self)
        x = torch.from_numpy(np.array(self.frames(index), dtype=np.float32))  # (T, *input_shape)
        if self.frame_transform is not None:
            x = self.frame_transform(x)
        return x, int(self.labels[index])
