"""Spiking Heidelberg Digits (SHD) and Spiking Speech Commands (SSC), Cramer et al. 2020.

HDF5 layout of ``shd_{train,test}.h5`` / ``ssc_{train,valid,test}.h5``::

    spikes/times    ragged, per sample the spike times in seconds (float16)
    spikes/units    ragged, per sample the channel ids 0..699 (uint16), same length
    labels          (N,) class ids (SHD 0..19, SSC 0..34)
    extra/speaker   (N,) speaker ids
    extra/keys      class names (bytes)
    extra/meta_info per-speaker gender, age, body_height

Ragged arrays may be HDF5 variable-length datasets (the published files) or fixed 2-D
arrays; in the latter, trailing ``(time 0, unit 0)`` entries after the last spike are padding.

Frames: spike counts per time window and per group of ``n_bins`` neighbouring channels
(default 5: 700 -> 140 inputs, the DCLS recipe); counts, not binary. Two framings:

- ``framing="grid"`` (default): fixed windows of ``dt`` seconds from t = 0 (frame k holds the
  spikes in ``[k dt, (k + 1) dt)``); T = ``floor(t_last / dt) + 1``, silent windows kept.
- ``framing="events"``: spikingjelly's 2023 SHD/SSC framing, which the DCLS delays paper
  trained on (official repository Thvnvtos/SNN-delays, datasets.py:
  ``SpikingHeidelbergDigits(..., data_type='frame', duration=10)``; spikingjelly
  ``integrate_events_by_fixed_duration_shd``): times in ms, ``1000 * t`` in the file's own
  precision (float16 for the published files); each frame opens at the next spike ``t_l`` and
  holds every spike with ``t - t_l <= dt`` (so at most ``dt`` wide, end included); a silence
  longer than ``dt`` is dropped, not turned into empty frames. T = the number of frames.

T varies per sample unless ``duration`` (s) fixes it (``ceil(duration / dt)`` frames, truncated
or zero-padded). The binned frames are cached in ``cache_dir`` (default ``<root>/cache``), see
:mod:`snnlab.data.cache`.

Validation split (SHD has none): ``split="valid"`` holds out whole speakers of
``shd_train.h5``: the speakers with the highest ids, added until at least ``valid_fraction``
(default 0.1) of the training samples are held out, or the ids in ``valid_speakers``.
``split="train"`` is the whole file unless ``holdout_valid=True`` removes those speakers
(set it through ``data.train_options`` so that it reaches the training split only; the
trainer refuses a validation split whose samples are still in the training split).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import h5py
import numpy as np
import torch

from snnlab.data.base import check_split
from snnlab.data.cache import FrameCache, cache_key, user_cache_dir, write_frames_somewhere
from snnlab.data.collate import collate_time_major
from snnlab.data.events import EVENT_DTYPE
from snnlab.data.shd_schema import _vector, check_layout
from snnlab.errors import ConfigError, DataError, one_line

N_CHANNELS = 700
NUM_CLASSES = {"shd": 20, "ssc": 35}
SPLITS = {"shd": ("train", "valid", "test"), "ssc": ("train", "valid", "test")}
SOURCE = "https://zenkelab.org/datasets/"
log = logging.getLogger(__name__)


def source_file(root: str | Path, kind: str, split: str) -> Path:
    """Path of the HDF5 file for ``split`` (SHD's valid split reads the train file)."""
    file_split = "train" if kind == "shd" and split == "valid" else split
    path = Path(root) / f"{kind}_{file_split}.h5"
    if not path.is_file():
        raise DataError(
            f"{kind.upper()} file not found: {path}; download {kind}_{file_split}.h5.zip from "
            f"{SOURCE} and unzip it into data.root"
        )
    return path


def _row(dataset: h5py.Dataset, index: int) -> np.ndarray:
    """One sample of a ragged (vlen) or fixed 2-D dataset as a 1-D array."""
    return np.asarray(dataset[index]).reshape(-1)


def read_sample(f: h5py.File, index: int, name: str = "<h5>") -> tuple[np.ndarray, np.ndarray]:
    """Spike times (s, float64) and channels (int64) of sample ``index``, validated.

    Raises:
        DataError: naming the file and sample when lengths differ, a channel is >= 700,
            or times are negative, non-finite or unsorted.
    """
    times = _row(f["spikes/times"], index).astype(np.float64)
    units = _row(f["spikes/units"], index).astype(np.int64)
    if times.shape != units.shape:
        raise DataError(
            f"{name}: sample {index}: spikes/times has {times.size} values but spikes/units "
            f"{units.size}; they must pair up"
        )
    if f["spikes/times"].dtype.kind != "O":  # fixed 2-D layout: drop trailing (0, 0) padding
        real = np.nonzero((times != 0) | (units != 0))[0]
        times, units = times[: real[-1] + 1 if real.size else 0], units[: real[-1] + 1 if real.size else 0]
    problem = None
    if units.size and (units.min() < 0 or units.max() >= N_CHANNELS):
        problem = f"channel ids span [{units.min()}, {units.max()}], valid 0..{N_CHANNELS - 1}"
    elif not np.all(np.isfinite(times)) or (times.size and times.min() < 0):
        problem = "spike times must be finite and >= 0 seconds"
    elif np.any(np.diff(times) < 0):
        problem = f"spike times are not sorted (first decrease after position {int(np.argmax(np.diff(times) < 0))})"
    if problem:
        raise DataError(f"{name}: sample {index}: {problem}")
    return times, units


MAX_STEPS = 100_000  # bound of the time axis without ``duration``: 1,000 s at dt = 10 ms


FRAMINGS = ("grid", "events")


def _counts(step: np.ndarray, units: np.ndarray, n_steps: int, n_bins: int) -> np.ndarray:
    """Counts (n_steps, ceil(700 / n_bins)) of spikes at frame ``step`` and channel group ``units // n_bins``."""
    width = math.ceil(N_CHANNELS / n_bins)
    keep = step < n_steps
    flat = step[keep] * width + units[keep] // n_bins
    return np.bincount(flat, minlength=n_steps * width).reshape(n_steps, width)


def bin_sample(
    times: np.ndarray, units: np.ndarray, dt: float, n_bins: int, n_steps: int | None, where: str = "sample"
) -> np.ndarray:
    """Counts (T, ceil(700 / n_bins)) of spikes per ``dt`` seconds from t = 0 and channel group.

    Raises:
        DataError: without ``n_steps``, a last spike so late that T would exceed :data:`MAX_STEPS`.
    """
    if n_steps is None and times.size and times.max() / dt >= MAX_STEPS:
        raise DataError(
            f"{where}: last spike at {times.max():g} s gives {times.max() / dt:.3g} steps of dt={dt} s; "
            f"valid: at most {MAX_STEPS:,} steps (SHD recordings last about 1 s); set "
            "data.options.duration (s) to crop, or fix the file"
        )
    step = np.floor(times / dt).astype(np.int64)
    if n_steps is None:
        n_steps = int(step.max()) + 1 if step.size else 1
    return _counts(step, units, n_steps, n_bins)


def event_frame_index(times: np.ndarray, dt: float, time_dtype: np.dtype = np.dtype(np.float64)) -> np.ndarray:
    """Frame of each spike under spikingjelly's 2023 framing (see the module docstring).

    Args:
        times: sorted spike times (s).
        dt: the longest frame (s); spikes with ``t - t_open <= dt`` join the frame opened at ``t_open``.
        time_dtype: the precision ``1000 * t`` (ms) is computed in (the file's, float16 for SHD/SSC).
    """
    t = times.astype(time_dtype) * time_dtype.type(1000)  # ms
    limit = round(dt * 1000, 9)
    frame = np.empty(t.size, np.int64)
    left, k = 0, 0
    while left < t.size:
        right = left + int(np.searchsorted(t[left:] - t[left], limit, side="right"))
        frame[left:right] = k
        left, k = right, k + 1
    return frame


def frame_sample(
    times: np.ndarray,
    units: np.ndarray,
    dt: float,
    n_bins: int,
    n_steps: int | None,
    framing: str = "grid",
    time_dtype: np.dtype = np.dtype(np.float64),
    where: str = "sample",
) -> np.ndarray:
    """Counts (T, ceil(700 / n_bins)) of one sample under ``framing`` ("grid" or "events")."""
    if framing == "grid":
        return bin_sample(times, units, dt, n_bins, n_steps, where)
    step = event_frame_index(times, dt, time_dtype)
    if n_steps is None:
        n_steps = int(step.max()) + 1 if step.size else 1
    return _counts(step, units, n_steps, n_bins)


def speaker_holdout(
    speakers: np.ndarray | None, valid_fraction: float, valid_speakers=None, where: str = "shd", n_samples: int = 0
) -> np.ndarray:
    """Boolean mask (N,) of the samples whose speaker is held out for validation.

    ``speakers`` None (a file without ``extra/speaker``) or a single speaker cannot be split by
    speaker: the fallback holds out a fixed, seeded ``valid_fraction`` of the samples (stated
    once on the log), so neither split is empty.
    """
    if not 0 < valid_fraction < 1:
        raise ConfigError(f"valid_fraction must be in (0, 1), got {valid_fraction}")
    if valid_speakers is not None:
        if speakers is None:
            raise ConfigError(f"{where}: valid_speakers needs extra/speaker in the file; it has none")
        return np.isin(speakers, np.asarray(valid_speakers))
    if speakers is None or len(np.unique(speakers)) < 2:
        n = len(speakers) if speakers is not None else n_samples
        return _sample_holdout(n, valid_fraction, where, "no extra/speaker" if speakers is None else "one speaker")
    held: list[int] = []
    for spk in sorted(np.unique(speakers).tolist(), reverse=True)[:-1]:  # the lowest id always trains
        if np.isin(speakers, held).mean() >= valid_fraction:
            break
        held.append(spk)
    return np.isin(speakers, held)


def _sample_holdout(n: int, valid_fraction: float, where: str, reason: str) -> np.ndarray:
    """The fallback split: a seeded ``valid_fraction`` of the samples (at least one each side)."""
    log.warning(
        f"{where}: {reason}, so 'valid' cannot hold out whole speakers; it holds out a fixed random "
        f"{valid_fraction:.0%} of the samples instead (seed 0)"
    )
    held = np.zeros(n, bool)
    if n >= 2:
        k = min(max(1, round(valid_fraction * n)), n - 1)
        held[np.random.default_rng(0).permutation(n)[:k]] = True
    return held


class SpikingAudioDataset(torch.utils.data.Dataset):
    """SHD or SSC frames; items ``(x (T, 140), y)``. Build it with :func:`shd_dataset`."""

    def __init__(
        self,
        cache: FrameCache,
        indices: np.ndarray,
        source: Path,
        kind: str,
        classes: list[str],
        width: int,
        timesteps: int | None,
        dt: float,
        frame_transform=None,
    ) -> None:
        self.cache, self.indices, self.source, self.kind = cache, indices, source, kind
        self.labels = cache.labels[indices].astype(np.int64)
        self.num_classes = NUM_CLASSES[kind]
        self.classes = classes
        self.input_shape = (width,)
        self.timesteps = timesteps
        self.dt = dt  # s per step
        self.frame_transform = frame_transform
        self.collate_fn = collate_time_major

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        x = torch.from_numpy(self.cache[int(self.indices[index])].astype(np.float32))  # (T, F)
        if self.frame_transform is not None:
            x = self.frame_transform(x)
        return x, int(self.labels[index])

    def events(self, index: int) -> np.ndarray:
        """Raw spikes of sample ``index`` as events (t in us, x = channel), read from the source file."""
        with h5py.File(self.source, "r") as f:
            times, units = read_sample(f, int(self.indices[index]), str(self.source))
        ev = np.zeros(len(times), dtype=EVENT_DTYPE)
        ev["t"], ev["x"] = np.round(times * 1e6), units
        return ev


def _time_dtype(f: h5py.File) -> np.dtype:
    """The precision of the file's spike times (float16 in the published files)."""
    times = f["spikes/times"]
    base = h5py.check_vlen_dtype(times.dtype) if times.dtype.kind == "O" else times.dtype
    return np.dtype(base if base is not None and np.dtype(base).kind == "f" else np.float64)


def _build_cache(
    source: Path,
    path: Path,
    dt: float,
    n_bins: int,
    n_steps: int | None,
    params: dict,
    framing: str = "grid",
    explicit: bool = True,
) -> Path:
    """Frame every sample of ``source`` and write the cache file; returns where it went."""
    kind = str(params["kind"])
    try:
        with h5py.File(source, "r") as f:
            labels = check_layout(f, str(source), NUM_CLASSES[kind])
            dtype = _time_dtype(f)
            frames = [
                frame_sample(
                    *read_sample(f, i, str(source)), dt, n_bins, n_steps, framing, dtype, f"{source}: sample {i}"
                )
                for i in range(len(labels))
            ]
    except (KeyError, OSError) as err:
        raise DataError(
            f"{source}: not an SHD/SSC file ({one_line(err)}); expected spikes/times, spikes/units, labels"
        ) from None
    return write_frames_somewhere(path, frames, labels, params, explicit)


def _read_meta(source: Path, n: int) -> tuple[np.ndarray | None, list[str]]:
    """Speaker ids (None when the file has none) and class names."""
    with h5py.File(source, "r") as f:
        speakers = None
        if "extra/speaker" in f:
            speakers = _vector(f, "extra/speaker", str(source), n, "iu", "speaker ids")
        keys = f["extra/keys"][()] if "extra/keys" in f else []
    keys = np.atleast_1d(keys)
    return speakers, [k.decode() if isinstance(k, bytes) else str(k) for k in keys]


def shd_dataset(
    root: str | None,
    split: str = "train",
    kind: str = "shd",
    dt: float = 0.01,
    n_bins: int = 5,
    duration: float | None = None,
    cache_dir: str | None = None,
    in_memory: bool | None = None,
    valid_fraction: float = 0.1,
    valid_speakers=None,
    holdout_valid: bool = False,
    frame_transform=None,
    framing: str = "grid",
) -> SpikingAudioDataset:
    """SHD/SSC frames (T, ceil(700 / n_bins)) as a dataset (see the module docstring)."""
    if root is None:
        raise DataError(f"{kind} needs data.root: a folder with {kind}_train.h5 etc. from {SOURCE}")
    check_split(kind, split, SPLITS[kind])
    if not dt > 0 or isinstance(n_bins, bool) or not isinstance(n_bins, int) or not 1 <= n_bins <= N_CHANNELS:
        raise ConfigError(f"{kind}: need dt > 0 (seconds) and integer n_bins in 1..700, got dt={dt}, n_bins={n_bins}")
    if duration is not None and not duration > 0:
        raise ConfigError(f"{kind}: duration must be > 0 seconds, got {duration}")
    if framing not in FRAMINGS:
        raise ConfigError(f"{kind}: framing must be one of {list(FRAMINGS)}, got {framing!r}")
    source = source_file(root, kind, split)
    n_steps = math.ceil(duration / dt - 1e-9) if duration is not None else None
    params = {"kind": kind, "dt": dt, "n_bins": n_bins, "n_steps": n_steps}
    if framing != "grid":  # grid caches keep their key
        params["framing"] = framing
    folder = Path(cache_dir) if cache_dir is not None else Path(root) / "cache"
    path = folder / f"{source.stem}_{cache_key(source, params)}.h5"
    fallback = user_cache_dir() / path.name
    if not path.is_file() and cache_dir is None and fallback.is_file():
        path = fallback  # written there before, when the data root was read-only
    elif not path.is_file():
        path = _build_cache(source, path, dt, n_bins, n_steps, params, framing, explicit=cache_dir is not None)
    cache = FrameCache(path, in_memory)
    speakers, classes = _read_meta(source, len(cache))
    indices = np.arange(len(cache))
    if kind == "shd" and (split == "valid" or (split == "train" and holdout_valid)):
        held = speaker_holdout(speakers, valid_fraction, valid_speakers, str(source), len(indices))
        indices = indices[held] if split == "valid" else indices[~held]
    ds = SpikingAudioDataset(
        cache, indices, source, kind, classes, math.ceil(N_CHANNELS / n_bins), n_steps, dt, frame_transform
    )
    ds.contains_valid = kind == "shd" and split == "train" and not holdout_valid  # SSC's valid is its own file
    ds.framing = framing
    return ds
