"""Event arrays: the one structured dtype every reader produces and every transform consumes.

An event stream is a 1-D numpy structured array with fields

- ``t``: timestamp in microseconds (int64), non-decreasing within a sample,
- ``x``: column (or audio channel for SHD/SSC), int16,
- ``y``: row (0 for one-dimensional sensors), int16,
- ``p``: polarity, 1 = ON, 0 = OFF (0 for single-polarity sensors), int8.

Sensor sizes are written ``(width, height, polarities)``, the order of the event fields
``x, y, p`` (the convention tonic popularised); frames are laid out ``(T, P, H, W)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from snnlab.errors import ConfigError, DataError

EVENT_DTYPE = np.dtype([("t", np.int64), ("x", np.int16), ("y", np.int16), ("p", np.int8)])


def make_events(
    t: Sequence[int] | np.ndarray,
    x: Sequence[int] | np.ndarray,
    y: Sequence[int] | np.ndarray | None = None,
    p: Sequence[int] | np.ndarray | None = None,
) -> np.ndarray:
    """Build an event array from field columns.

    Args:
        t: timestamps in microseconds, shape (N,).
        x: columns (or channels), shape (N,).
        y: rows, shape (N,); zeros when omitted.
        p: polarities, shape (N,); zeros when omitted.

    Returns:
        A structured array of dtype :data:`EVENT_DTYPE`, shape (N,).

    Raises:
        DataError: when the columns differ in length.
    """
    t = np.asarray(t)
    n = t.shape[0] if t.ndim else 0
    cols = {"t": t, "x": np.asarray(x)}
    cols["y"] = np.zeros(n, np.int16) if y is None else np.asarray(y)
    cols["p"] = np.zeros(n, np.int8) if p is None else np.asarray(p)
    lengths = {name: col.reshape(-1).shape[0] for name, col in cols.items()}
    if len(set(lengths.values())) != 1:
        raise DataError(f"event columns differ in length: {lengths}; every field needs one value per event")
    events = np.empty(n, dtype=EVENT_DTYPE)
    for name, col in cols.items():
        events[name] = col.reshape(-1)
    return events


def check_events(events: np.ndarray, sensor_size: tuple[int, int, int] | None = None) -> None:
    """Validate an event array (dtype fields, coordinate ranges).

    Args:
        events: structured array with fields t, x, y, p.
        sensor_size: ``(width, height, polarities)`` to check coordinates against, or None.

    Raises:
        DataError: naming the field and the valid range.
    """
    names = events.dtype.names or ()
    missing = [f for f in ("t", "x", "y", "p") if f not in names]
    if missing:
        raise DataError(f"event array lacks fields {missing}; expected fields t, x, y, p (see snnlab.data.EVENT_DTYPE)")
    if sensor_size is None or len(events) == 0:
        return
    for field, bound in zip(("x", "y", "p"), sensor_size):
        lo, hi = int(events[field].min()), int(events[field].max())
        if lo < 0 or hi >= bound:
            raise DataError(
                f"event field '{field}' spans [{lo}, {hi}] but the sensor "
                f"(width, height, polarities) = {tuple(sensor_size)} allows [0, {bound - 1}]"
            )


def check_sensor_size(sensor_size: Sequence[int], name: str = "sensor_size") -> tuple[int, int, int]:
    """Return ``sensor_size`` as a tuple of three positive ints or raise ConfigError."""
    size = tuple(int(s) for s in sensor_size)
    if len(size) != 3 or min(size) < 1:
        raise ConfigError(f"{name} must be (width, height, polarities) of positive ints, got {tuple(sensor_size)}")
    return size  # type: ignore[return-value]


class EventStore:
    """Many event streams packed into one array with offsets (compact in-memory cache).

    Args:
        events: all events concatenated, shape (N_total,), dtype EVENT_DTYPE.
        offsets: sample boundaries, shape (n_samples + 1,), ``offsets[0] == 0``.
    """

    def __init__(self, events: np.ndarray, offsets: np.ndarray) -> None:
        if offsets.ndim != 1 or offsets[0] != 0 or offsets[-1] != len(events):
            raise DataError("EventStore offsets must start at 0 and end at the number of events")
        self.events = events
        self.offsets = offsets

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, index: int) -> np.ndarray:
        return self.events[self.offsets[index] : self.offsets[index + 1]]

    @classmethod
    def from_list(cls, streams: Sequence[np.ndarray]) -> EventStore:
        """Pack a list of event arrays."""
        lengths = np.array([len(s) for s in streams], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        events = np.concatenate(streams) if streams else np.empty(0, EVENT_DTYPE)
        return cls(events.astype(EVENT_DTYPE, copy=False), offsets)
