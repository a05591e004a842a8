"""Embedded default dataset: scikit-learn's 1,797 handwritten 8x8 digits as DVS events.

The conversion mimics how N-MNIST was recorded (Orchard et al. 2015): the static image is
upsampled (bilinear) onto a ``size`` x ``size`` sensor and moved along three saccades that
trace a triangle, each lasting ``saccade_ms``; every pixel is a simple DVS pixel model.

DVS pixel model, per pixel with log intensity ``L(t) = log(b + (1 - b) * I(t))``, ``I`` in [0, 1]:
a reference level ``L_ref`` (initialised to ``L(0)``) is compared with ``L(t)`` every
``step_us``; ``n = floor(|L - L_ref| / C)`` events of polarity ``sign(L - L_ref)`` are due,
``C`` the pixel's contrast threshold (nominal ``threshold`` with a Gaussian mismatch of
relative std ``threshold_mismatch``). A pixel cannot fire twice within ``refractory_us``;
due events that do not fit stay in the residual ``L - L_ref`` and fire later.
``L_ref`` moves by ``C`` per emitted event (residual accumulation). Timestamps get a
small jitter of up to ``jitter_us``. Everything random comes from ``seed``: the events are
deterministic.

Splits: a fixed stratified split (``sklearn.model_selection.train_test_split`` with
``random_state=0``, ``stratify`` = labels) into 1,437 train and 360 test samples. The
validation split ``split="valid"`` is a second fixed stratified split of those 1,437 training
samples (``train_test_split`` with ``test_size=144``, i.e. 10 % rounded up, ``random_state=0``,
``stratify`` = their labels): 144 samples, 14-15 per class. As with SHD's speaker hold-out,
``split="train"`` keeps all 1,437 samples unless ``holdout_valid=True`` removes the 144
validation samples (1,293 left); the test split never changes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np

from snnlab.data.base import EventFrameDataset, check_split
from snnlab.data.events import EVENT_DTYPE, EventStore
from snnlab.data.transforms import ToFrame
from snnlab.errors import ConfigError

N_TEST = 360
N_VALID = 144  # 10 % of the 1,437 training samples, rounded up
SPLIT_SEED = 0
SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class DigitsConfig:
    """Parameters of the digits -> events conversion (units in the names)."""

    size: int = 16  # sensor side in pixels
    saccade_ms: float = 100.0  # duration of each of the three saccades
    amplitude_px: float = 2.0  # side of the triangle path, in sensor pixels
    step_us: int = 2000  # pixel model update period
    threshold: float = 0.25  # contrast threshold C, log-intensity units
    threshold_mismatch: float = 0.05  # relative std of C across pixels
    refractory_us: int = 1000
    jitter_us: int = 200
    background: float = 0.05  # b: intensity floor so log stays finite
    seed: int = 0

    def validate(self) -> None:
        """Raise ConfigError for impossible values."""
        checks = {
            "size": self.size >= 4,
            "saccade_ms": self.saccade_ms > 0,
            "step_us": self.step_us > 0,
            "threshold": self.threshold > 0,
            "threshold_mismatch": self.threshold_mismatch >= 0,
            "refractory_us": self.refractory_us >= 0,
            "jitter_us": self.jitter_us >= 0,
            "background": 0 < self.background < 1,
            "amplitude_px": self.amplitude_px >= 0,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ConfigError(
                f"digits: invalid {bad} in {asdict(self)}; need size >= 4, positive times/threshold, 0 < background < 1"
            )

    @property
    def duration_us(self) -> int:
        """Length of a recording (three saccades) in microseconds."""
        return int(round(3 * self.saccade_ms * 1000))


def _resample_matrix(size: int, src: int, shift: float) -> np.ndarray:
    """Bilinear weights (size, src) mapping ``src`` source pixels onto ``size`` sensor pixels,
    with the image moved by ``shift`` sensor pixels; zero outside the source."""
    centres = (np.arange(size) + 0.5 - shift) * (src / size) - 0.5  # source coordinate of each sensor pixel
    lo = np.floor(centres).astype(np.int64)
    frac = centres - lo
    mat = np.zeros((size, src))
    for idx, w in ((lo, 1.0 - frac), (lo + 1, frac)):
        ok = (idx >= 0) & (idx < src)
        mat[np.nonzero(ok)[0], idx[ok]] += w[ok]
    return mat


def saccade_path(cfg: DigitsConfig, times_us: np.ndarray) -> np.ndarray:
    """Image displacement (dx, dy) in pixels at each time: three eased moves around a triangle.

    Returns:
        shape (len(times_us), 2).
    """
    a = cfg.amplitude_px * cfg.size / 16.0
    corners = np.array([[0.0, 0.0], [a / 2, a], [a, 0.0]])
    corners -= corners.mean(axis=0)
    seg_us = cfg.saccade_ms * 1000.0
    seg = np.clip((times_us // seg_us).astype(np.int64), 0, 2)
    s = np.clip(times_us / seg_us - seg, 0.0, 1.0)
    ease = (1.0 - np.cos(np.pi * s)) / 2.0  # accelerate then decelerate, like an eye saccade
    start, end = corners[seg], corners[(seg + 1) % 3]
    return start + (end - start) * ease[:, None]


def _render_log(images: np.ndarray, cfg: DigitsConfig, shift: np.ndarray) -> np.ndarray:
    """Log intensity (N, size*size) of 8x8 images (N, 8, 8) in [0, 16] moved by ``shift``."""
    my = _resample_matrix(cfg.size, images.shape[1], shift[1])
    mx = _resample_matrix(cfg.size, images.shape[2], shift[0])
    frames = np.matmul(np.matmul(my, images), mx.T) / 16.0  # (N, size, size)
    intensity = cfg.background + (1.0 - cfg.background) * np.clip(frames, 0.0, 1.0)
    return np.log(intensity).reshape(len(images), -1)


def _emit_step(state: dict, log_i: np.ndarray, t_prev: int, t_now: int, cfg: DigitsConfig) -> tuple[np.ndarray, ...]:
    """Advance every pixel to ``t_now``; return (image, pixel, t, p) of the emitted events."""
    diff = log_i - state["ref"]  # (N, P)
    due = np.floor(np.abs(diff) / state["thr"]).astype(np.int64)
    img, pix = np.nonzero(due)
    if len(img) == 0:
        return (np.empty(0, np.int64),) * 4
    n_due = due[img, pix]
    earliest = np.maximum(t_prev + 1, state["last"][img, pix] + cfg.refractory_us)
    if cfg.refractory_us > 0:
        cap = np.where(earliest <= t_now, 1 + (t_now - earliest) // cfg.refractory_us, 0)
        n_due = np.minimum(n_due, cap)
    sign = np.sign(diff[img, pix])
    state["ref"][img, pix] += sign * n_due * state["thr"][img, pix]
    fired = n_due > 0
    state["last"][img[fired], pix[fired]] = t_now
    img, pix, n_due, sign, earliest = img[fired], pix[fired], n_due[fired], sign[fired], earliest[fired]
    reps = np.repeat(np.arange(len(n_due)), n_due)
    k = np.arange(len(reps)) - np.repeat(np.cumsum(n_due) - n_due, n_due)  # index within a pixel's burst
    spacing = (t_now - earliest[reps]) / np.maximum(n_due[reps] - 1, 1)
    t = (t_now - (n_due[reps] - 1 - k) * spacing).astype(np.int64)
    return img[reps], pix[reps], t, (sign[reps] > 0).astype(np.int64)


def convert(images: np.ndarray, cfg: DigitsConfig) -> EventStore:
    """Turn 8x8 images (N, 8, 8), values 0..16, into N event streams on a size x size x 2 sensor."""
    cfg.validate()
    rng = np.random.default_rng(cfg.seed)
    n_pix = cfg.size * cfg.size
    times = np.arange(0, cfg.duration_us + 1, cfg.step_us, dtype=np.int64)
    path = saccade_path(cfg, times.astype(np.float64))
    thr = cfg.threshold * (1.0 + cfg.threshold_mismatch * rng.standard_normal((len(images), n_pix)))
    state = {
        "ref": _render_log(images, cfg, path[0]),
        "thr": np.maximum(thr, 0.2 * cfg.threshold),
        "last": np.full((len(images), n_pix), -(10**9), dtype=np.int64),
    }
    chunks = [
        _emit_step(state, _render_log(images, cfg, path[i]), int(times[i - 1]), int(times[i]), cfg)
        for i in range(1, len(times))
    ]
    img, pix, t, p = (np.concatenate(c) for c in zip(*chunks))
    if cfg.jitter_us > 0:
        t = np.clip(t + rng.integers(-cfg.jitter_us, cfg.jitter_us + 1, size=len(t)), 0, cfg.duration_us - 1)
    order = np.lexsort((t, img))
    events = np.empty(len(t), dtype=EVENT_DTYPE)
    events["t"], events["p"] = t[order], p[order]
    events["x"], events["y"] = pix[order] % cfg.size, pix[order] // cfg.size
    offsets = np.searchsorted(img[order], np.arange(len(images) + 1))
    return EventStore(events, offsets.astype(np.int64))


@lru_cache(maxsize=4)
def load_digit_events(cfg: DigitsConfig = DigitsConfig()) -> tuple[EventStore, np.ndarray]:
    """All 1,797 digits as events (cached in memory per configuration) and their labels (N,)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return convert(digits.images.astype(np.float64), cfg), digits.target.astype(np.int64)


def split_indices(labels: np.ndarray, split: str, holdout_valid: bool = False) -> np.ndarray:
    """Sorted sample indices of a split (see the module docstring).

    Args:
        labels: the labels of all 1,797 digits.
        split: "train" (1,437, or 1,293 with ``holdout_valid``), "valid" (144 of the training
            samples) or "test" (360).
        holdout_valid: remove the validation samples from "train" (ignored for the other splits).
    """
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(np.arange(len(labels)), test_size=N_TEST, random_state=SPLIT_SEED, stratify=labels)
    if split == "test":
        return np.sort(test)
    if split == "train" and not holdout_valid:
        return np.sort(train)
    fit, valid = train_test_split(train, test_size=N_VALID, random_state=SPLIT_SEED, stratify=labels[train])
    return np.sort(valid if split == "valid" else fit)


class _Subset:
    """Index remapping view over an EventStore."""

    def __init__(self, store: EventStore, indices: np.ndarray) -> None:
        self.store, self.indices = store, indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.store[int(self.indices[i])]


def digits_dataset(
    root: str | None = None,
    split: str = "train",
    n_time_bins: int = 16,
    time_window_us: float | None = None,
    frame_transform=None,
    event_transform=None,
    random_events: bool = False,
    holdout_valid: bool = False,
    **conversion,
) -> EventFrameDataset:
    """The embedded digits as a dataset of frames (T, 2, size, size).

    Args:
        root: ignored (the data ships with scikit-learn).
        split: "train" (1,437), "valid" (144 of the training samples) or "test" (360).
        n_time_bins: T bins over the whole 3-saccade recording (default 16).
        time_window_us: bin width instead of ``n_time_bins`` (T = ceil(duration / window)).
        frame_transform: tensor transform after binning (e.g. TimeMask).
        event_transform: event transform before binning.
        random_events: whether ``event_transform`` is random (disables the frame cache).
        holdout_valid: "train" leaves out the 144 "valid" samples (1,293 left); other splits ignore it.
        **conversion: fields of :class:`DigitsConfig` (size, saccade_ms, threshold, seed, ...).
    """
    check_split("digits", split, SPLITS)
    unknown = set(conversion) - set(DigitsConfig.__dataclass_fields__)
    if unknown:
        raise ConfigError(
            f"digits: unknown option(s) {sorted(unknown)}; valid: n_time_bins, time_window_us, "
            f"{', '.join(DigitsConfig.__dataclass_fields__)}"
        )
    cfg = DigitsConfig(**conversion)
    cfg.validate()
    store, labels = load_digit_events(cfg)
    idx = split_indices(labels, split, holdout_valid)
    binning = {"time_window": time_window_us} if time_window_us is not None else {"n_time_bins": n_time_bins}
    to_frame = ToFrame((cfg.size, cfg.size, 2), duration=cfg.duration_us, **binning)
    ds = EventFrameDataset(
        _Subset(store, idx),
        labels[idx],
        to_frame,
        num_classes=10,
        event_transform=event_transform,
        frame_transform=frame_transform,
        random_events=random_events,
    )
    ds.contains_valid = split == "train" and not holdout_valid  # the trainer refuses to validate on seen samples
    ds.indices = idx  # positions in scikit-learn's 1,797 digits
    return ds


__all__ = ["DigitsConfig", "convert", "digits_dataset", "load_digit_events", "saccade_path"]
