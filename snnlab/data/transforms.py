"""Event transforms (numpy, on structured event arrays) and the event -> frame binning.

Every transform is a small callable class validated at construction: a bad parameter raises
:class:`snnlab.errors.ConfigError` naming the parameter and what is valid. Event transforms take
and return an event array (see :mod:`snnlab.data.events`); :class:`ToFrame` returns counts
``(T, P, H, W)`` (float32), or ``(T, P, W)`` for one-row sensors such as SHD's 700 channels.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from snnlab.data.events import check_events, check_sensor_size
from snnlab.errors import ConfigError


def _positive(name: str, value: float | None, integer: bool = False) -> None:
    if value is None:
        return
    if integer and (not isinstance(value, (int, np.integer)) or isinstance(value, bool)):
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    if not value > 0:
        raise ConfigError(f"{name} must be > 0, got {value!r}")


class Compose:
    """Apply transforms in order: ``Compose([a, b])(x) == b(a(x))``."""

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        for i, tr in enumerate(transforms):
            if not callable(tr):
                raise ConfigError(f"Compose: item {i} ({tr!r}) is not callable")
        self.transforms = list(transforms)

    def __call__(self, data: Any) -> Any:
        for tr in self.transforms:
            data = tr(data)
        return data

    def __repr__(self) -> str:
        return f"Compose({self.transforms!r})"


class ToFrame:
    """Bin events into count frames.

    Exactly one of ``time_window``, ``n_time_bins`` and ``event_count`` is given. Bin edges
    start at ``start_time`` (default 0, the start of the recording) and, when ``duration`` is
    given, end at ``start_time + duration`` whatever the first and last events are, so
    every sample of a dataset gets the same edges; events outside are dropped. Without a
    duration the end is one microsecond after the last event (a lone event is never lost).

    Args:
        sensor_size: ``(width, height, polarities)``.
        time_window: bin width in microseconds (T varies with the recording unless
            ``duration`` is given).
        n_time_bins: fixed number of bins T.
        event_count: events per frame (the last frame may hold fewer).
        duration: fixed span in microseconds covered by the bins.
        start_time: time of the first bin edge in microseconds.
    """

    def __init__(
        self,
        sensor_size: Sequence[int],
        time_window: float | None = None,
        n_time_bins: int | None = None,
        event_count: int | None = None,
        duration: float | None = None,
        start_time: float = 0.0,
    ) -> None:
        self.sensor_size = check_sensor_size(sensor_size)
        given = [
            n
            for n, v in (("time_window", time_window), ("n_time_bins", n_time_bins), ("event_count", event_count))
            if v is not None
        ]
        if len(given) != 1:
            raise ConfigError(
                f"ToFrame needs exactly one of time_window, n_time_bins, event_count; got {given or 'none'}"
            )
        _positive("time_window", time_window)
        _positive("n_time_bins", n_time_bins, integer=True)
        _positive("event_count", event_count, integer=True)
        _positive("duration", duration)
        self.time_window, self.n_time_bins, self.event_count = time_window, n_time_bins, event_count
        self.duration, self.start_time = duration, float(start_time)

    def timesteps(self) -> int | None:
        """T produced for every sample, or None when it depends on the recording."""
        if self.n_time_bins is not None:
            return self.n_time_bins
        if self.time_window is not None and self.duration is not None:
            return max(1, math.ceil(self.duration / self.time_window))
        return None

    def frame_shape(self) -> tuple[int, ...]:
        """Per-step shape: (P, H, W), or (P, W) when the sensor has one row."""
        w, h, p = self.sensor_size
        return (p, w) if h == 1 else (p, h, w)

    def _bins(self, t: np.ndarray) -> tuple[np.ndarray, int]:
        """Bin index of each event (-1 = dropped) and the number of bins T."""
        if self.event_count is not None:
            n_bins = max(1, math.ceil(len(t) / self.event_count))
            return np.arange(len(t)) // self.event_count, n_bins
        start = self.start_time
        if self.duration is not None:
            span = float(self.duration)
        else:
            span = float(t.max()) + 1.0 - start if len(t) else 1.0
        if self.n_time_bins is not None:
            n_bins = self.n_time_bins
            idx = np.floor((t - start) * n_bins / span).astype(np.int64)  # multiply first: exact for int times
        else:
            n_bins = max(1, math.ceil(span / self.time_window))
            idx = np.floor((t - start) / self.time_window).astype(np.int64)
        inside = (t >= start) & (t < start + span) & (idx < n_bins)
        return np.where(inside, idx, -1), n_bins

    def __call__(self, events: np.ndarray) -> np.ndarray:
        """Events (N,) -> counts (T, P, H, W) or (T, P, W), float32."""
        check_events(events, self.sensor_size)
        w, h, p = self.sensor_size
        idx, n_bins = self._bins(events["t"].astype(np.float64))
        keep = idx >= 0
        ev = events[keep]
        flat = ((idx[keep] * p + ev["p"]) * h + ev["y"]) * w + ev["x"]
        counts = np.bincount(flat.astype(np.int64), minlength=n_bins * p * h * w)
        return counts.reshape((n_bins, *self.frame_shape())).astype(np.float32)


class Downsample:
    """Group neighbouring pixels/channels: ``x // fx``, ``y // fy``, and scale time.

    SHD's channel grouping (700 channels summed in groups of 5 -> 140) is
    ``Downsample(factor=(5, 1))`` followed by a ToFrame over the smaller sensor.

    Args:
        factor: integer group size ``(fx, fy)``, or one int for both.
        time_factor: timestamps are multiplied by it (1 keeps them).
    """

    def __init__(self, factor: int | Sequence[int] = 1, time_factor: float = 1.0) -> None:
        fx, fy = (factor, factor) if isinstance(factor, (int, np.integer)) else tuple(factor)
        for name, f in (("factor[x]", fx), ("factor[y]", fy)):
            _positive(name, f, integer=True)
        _positive("time_factor", time_factor)
        self.fx, self.fy, self.time_factor = int(fx), int(fy), float(time_factor)

    def output_size(self, sensor_size: Sequence[int]) -> tuple[int, int, int]:
        """Sensor size after grouping."""
        w, h, p = check_sensor_size(sensor_size)
        return (math.ceil(w / self.fx), math.ceil(h / self.fy), p)

    def __call__(self, events: np.ndarray) -> np.ndarray:
        out = events.copy()
        out["x"] = events["x"] // self.fx
        out["y"] = events["y"] // self.fy
        if self.time_factor != 1.0:
            out["t"] = np.floor(events["t"] * self.time_factor).astype(np.int64)
        return out


class Crop:
    """Keep events inside a window and shift them to its origin.

    Args:
        x0, y0: top-left corner of the window.
        width, height: window size.
    """

    def __init__(self, x0: int, y0: int, width: int, height: int) -> None:
        if x0 < 0 or y0 < 0:
            raise ConfigError(f"Crop origin must be >= 0, got ({x0}, {y0})")
        _positive("width", width, integer=True)
        _positive("height", height, integer=True)
        self.x0, self.y0, self.width, self.height = int(x0), int(y0), int(width), int(height)

    def __call__(self, events: np.ndarray) -> np.ndarray:
        x = events["x"].astype(np.int64) - self.x0
        y = events["y"].astype(np.int64) - self.y0
        keep = (x >= 0) & (x < self.width) & (y >= 0) & (y < self.height)
        out = events[keep].copy()
        out["x"], out["y"] = x[keep], y[keep]
        return out


class CenterCrop(Crop):
    """Crop the central ``size`` window of a sensor (e.g. N-MNIST 34x34 -> 16x16).

    Args:
        sensor_size: ``(width, height, polarities)`` of the input.
        size: ``(width, height)`` of the window, or one int for a square.
    """

    def __init__(self, sensor_size: Sequence[int], size: int | Sequence[int]) -> None:
        w, h, _ = check_sensor_size(sensor_size)
        cw, ch = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
        if not (0 < cw <= w and 0 < ch <= h):
            raise ConfigError(f"CenterCrop size {(cw, ch)} must fit the sensor {(w, h)}")
        super().__init__((w - cw) // 2, (h - ch) // 2, int(cw), int(ch))


class RefractoryFilter:
    """Drop events that come less than ``refractory_us`` after the last kept event of the same pixel.

    Args:
        refractory_us: refractory period in microseconds.
    """

    def __init__(self, refractory_us: float) -> None:
        _positive("refractory_us", refractory_us)
        self.refractory_us = float(refractory_us)

    def __call__(self, events: np.ndarray) -> np.ndarray:
        keep = np.zeros(len(events), dtype=bool)
        last: dict[tuple[int, int], float] = {}
        for i, (t, x, y) in enumerate(zip(events["t"].tolist(), events["x"].tolist(), events["y"].tolist())):
            if t - last.get((x, y), -math.inf) >= self.refractory_us:
                keep[i] = True
                last[(x, y)] = t
        return events[keep]


class Denoise:
    """Background-activity filter: keep an event only when one of its 8 neighbours fired
    within ``filter_time_us`` before it.

    Args:
        filter_time_us: support window in microseconds.
    """

    def __init__(self, filter_time_us: float) -> None:
        _positive("filter_time_us", filter_time_us)
        self.filter_time_us = float(filter_time_us)

    def __call__(self, events: np.ndarray) -> np.ndarray:
        keep = np.zeros(len(events), dtype=bool)
        support: dict[tuple[int, int], float] = {}  # pixel -> time until which it is supported
        for i, (t, x, y) in enumerate(zip(events["t"].tolist(), events["x"].tolist(), events["y"].tolist())):
            keep[i] = t <= support.get((x, y), -math.inf)
            for dx in (-1, 0, 1):
                for dy in (-1, 0, 1):
                    if dx or dy:
                        support[(x + dx, y + dy)] = t + self.filter_time_us
        return events[keep]
