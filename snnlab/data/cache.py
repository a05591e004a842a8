"""HDF5 cache of binned frames, keyed by the binning parameters and the source file.

A cache file holds the frames of every sample of one split concatenated along time,
``frames (sum_i T_i, F)`` (counts, uint16), with ``offsets (N + 1,)`` and ``labels (N,)``.
Its name carries a hash of the transform parameters plus the source file's name, size and
modification time, so changing either makes a new cache instead of reusing a stale one.
Files are written to a temporary name and renamed, so an interrupted run never leaves a
half-written cache behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from snnlab.errors import DataError

CACHE_VERSION = 1
log = logging.getLogger(__name__)
IN_MEMORY_LIMIT_BYTES = 512 * 2**20


def cache_key(source: Path, params: dict[str, Any]) -> str:
    """Hex digest (16 chars) of ``params`` plus the source file's name, size and mtime."""
    stat = source.stat()
    blob = {
        "version": CACHE_VERSION,
        "source": source.name,
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "params": params,
    }
    return hashlib.sha256(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()[:16]


def write_frames(path: Path, frames: list[np.ndarray], labels: np.ndarray, params: dict[str, Any]) -> None:
    """Write ragged frames (each (T_i, F)) atomically to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lengths = np.array([len(f) for f in frames], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    width = frames[0].shape[1] if frames else 0
    stacked = np.concatenate(frames) if frames else np.zeros((0, width))
    if stacked.size and stacked.max() > np.iinfo(np.uint16).max:
        raise DataError(f"frame counts exceed uint16 in cache {path}; use a smaller dt")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with h5py.File(tmp, "w") as f:
        f.create_dataset("frames", data=stacked.astype(np.uint16), chunks=True if len(stacked) else None)
        f.create_dataset("offsets", data=offsets)
        f.create_dataset("labels", data=np.asarray(labels, np.int64))
        f.attrs["params"] = json.dumps(params, sort_keys=True, default=str)
    os.replace(tmp, path)


class FrameCache:
    """Read access to a frames cache file; loads it into memory when small enough.

    The HDF5 handle is opened lazily and reopened after a fork (DataLoader workers).

    Args:
        path: the cache file.
        in_memory: load all frames now (None: when they take less than 512 MiB).
    """

    def __init__(self, path: Path, in_memory: bool | None = None) -> None:
        self.path = Path(path)
        try:
            with h5py.File(self.path, "r") as f:
                self.offsets = f["offsets"][()]
                self.labels = f["labels"][()]
                n_bytes = f["frames"].size * 2
                if in_memory or (in_memory is None and n_bytes < IN_MEMORY_LIMIT_BYTES):
                    self._frames: np.ndarray | None = f["frames"][()]
                else:
                    self._frames = None
        except (OSError, KeyError) as err:
            raise DataError(f"frame cache {self.path} is unreadable ({err}); delete it to rebuild") from err
        self._file: h5py.File | None = None
        self._pid = -1

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> np.ndarray:
        """Frames (T_i, F) of sample ``index`` as uint16 counts."""
        lo, hi = int(self.offsets[index]), int(self.offsets[index + 1])
        if self._frames is not None:
            return self._frames[lo:hi]
        if self._file is None or self._pid != os.getpid():
            self._file, self._pid = h5py.File(self.path, "r"), os.getpid()
        return self._file["frames"][lo:hi]

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_file"], state["_pid"] = None, -1
        return state


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/snnlab`` (default ``~/.cache/snnlab``): where caches go when the data root is read-only."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "snnlab"


def write_frames_somewhere(
    path: Path, frames: list[np.ndarray], labels: np.ndarray, params: dict[str, Any], explicit: bool
) -> Path:
    """Write the cache at ``path``; when its folder is not writable and the user did not choose it
    (``explicit`` False), write it under :func:`user_cache_dir` instead, with a note.

    Raises:
        DataError: neither folder can be written (naming both and the option that chooses one).
    """
    try:
        write_frames(path, frames, labels, params)
        return path
    except OSError as err:
        if explicit:
            raise DataError(
                f"cannot write the frame cache {path} ({err.strerror or err}); valid: a writable data.options.cache_dir"
            ) from None
        first = err
    fallback = user_cache_dir() / path.name
    try:
        write_frames(fallback, frames, labels, params)
    except OSError as err:
        raise DataError(
            f"cannot write the frame cache in {path.parent} ({first.strerror or first}) nor in "
            f"{fallback.parent} ({err.strerror or err}); set data.options.cache_dir to a writable "
            "folder"
        ) from None
    log.warning(f"{path.parent} is not writable ({first.strerror or first}); frame cache written to {fallback}")
    return fallback
