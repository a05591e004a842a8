"""Datasets from elsewhere as snnlab datasets: ``from_tonic`` wraps any tonic dataset.

tonic (optional) offers a wide catalogue of event datasets; each item is ``(events, target)``
with a structured event array (fields ``t`` in microseconds, ``x``, optionally ``y``, ``p``).
:func:`from_tonic` bins those events with snnlab's own :class:`~snnlab.data.transforms.ToFrame`
into time-major frames ``(T, P, H, W)`` (or ``(T, P, W)`` style for 1-D sensors, flattened by
the models), so a tonic dataset trains like a built-in one::

    import tonic
    from snnlab.data import from_tonic, register_dataset

    @register_dataset("pokerdvs", "tonic's POKERDVS as frames")
    def pokerdvs(root, split, n_time_bins=16):
        return from_tonic(tonic.datasets.POKERDVS(root, train=split == "train"), n_time_bins=n_time_bins)
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from snnlab.data.base import EventFrameDataset
from snnlab.data.events import make_events
from snnlab.data.transforms import ToFrame
from snnlab.errors import ConfigError, DataError


def tonic_events(events: np.ndarray, where: str = "tonic item") -> np.ndarray:
    """A tonic event array as snnlab events (``t`` us, ``x``, ``y`` (0 when absent), ``p`` (0 when absent))."""
    names = getattr(getattr(events, "dtype", None), "names", None) or ()
    if "t" not in names or "x" not in names:
        raise DataError(
            f"{where}: expected a structured event array with fields t and x (tonic's layout), got fields {list(names)}"
        )

    def col(f: str) -> Any:
        return events[f] if f in names else None

    return make_events(np.round(events["t"]).astype(np.int64), events["x"], col("y"), col("p"))


def _labels(dataset: Any) -> np.ndarray:
    targets = getattr(dataset, "targets", None)
    if targets is not None and len(targets) == len(dataset):
        return np.asarray(targets, np.int64).reshape(-1)
    return np.asarray([int(dataset[i][1]) for i in range(len(dataset))], np.int64)


def from_tonic(
    dataset: Any,
    n_time_bins: Optional[int] = 16,
    time_window_us: Optional[float] = None,
    sensor_size: Optional[Sequence[int]] = None,
    num_classes: Optional[int] = None,
    duration_us: Optional[float] = None,
    cache: bool = True,
) -> EventFrameDataset:
    """Frames ``(T, P, H, W)`` of a tonic dataset's events, binned by snnlab.

    Args:
        dataset: any tonic dataset (or sequence of ``(events, target)``), without a frame transform.
        n_time_bins: T bins per sample (ignored with ``time_window_us``).
        time_window_us: bin width in microseconds instead of a fixed T.
        sensor_size: ``(width, height, polarities)``; default the dataset's ``sensor_size``.
        num_classes: default ``len(dataset.classes)``, else the largest target + 1.
        duration_us: fixed span of the bins (default: up to the last event of each sample).
        cache: keep binned frames in memory.

    Raises:
        ConfigError: no sensor size known, or neither ``n_time_bins`` nor ``time_window_us``.
    """
    size = sensor_size or getattr(dataset, "sensor_size", None)
    if size is None:
        raise ConfigError("from_tonic: the dataset has no sensor_size; pass sensor_size=(width, height, polarities)")
    if n_time_bins is None and time_window_us is None:
        raise ConfigError("from_tonic: give n_time_bins (T) or time_window_us")
    binning = {"time_window": time_window_us} if time_window_us is not None else {"n_time_bins": n_time_bins}
    to_frame = ToFrame(tuple(int(s) for s in size), duration=duration_us, **binning)
    labels = _labels(dataset)
    classes = getattr(dataset, "classes", None)
    if num_classes is None:
        num_classes = len(classes) if classes else int(labels.max()) + 1 if labels.size else 0
    name = type(dataset).__name__
    return EventFrameDataset(
        lambda i: tonic_events(dataset[i][0], f"{name}[{i}]"),
        labels,
        to_frame,
        num_classes,
        cache=cache,
        classes=list(classes) if classes else None,
    )
