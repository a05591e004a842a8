"""Fixture writers of the delay tests: a tiny SHD file pair in the published HDF5 layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def write_tiny_shd(path: Path, n: int, seed: int) -> Path:
    """``n`` samples of ragged spikes (times s float16, units uint16), labels, speakers, keys."""
    import h5py

    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        times = f.create_dataset("spikes/times", (n,), dtype=h5py.vlen_dtype(np.float16))
        units = f.create_dataset("spikes/units", (n,), dtype=h5py.vlen_dtype(np.uint16))
        labels = np.arange(n) % 20
        for k in range(n):
            count = int(rng.integers(40, 120))
            times[k] = np.sort(rng.uniform(0.0, 0.3, count)).astype(np.float16)
            units[k] = (rng.integers(0, 100, count) + 30 * labels[k]).astype(np.uint16)  # class-dependent
        f.create_dataset("labels", data=labels.astype(np.uint16))
        f.create_dataset("extra/speaker", data=(np.arange(n) % 4).astype(np.uint16))
        f.create_dataset("extra/keys", data=[f"digit-{i}".encode() for i in range(20)])
        f.create_dataset("extra/meta_info/gender", data=[b"female"] * 4)
        f.create_dataset("extra/meta_info/age", data=np.full(4, 30, np.uint16))
        f.create_dataset("extra/meta_info/body_height", data=np.full(4, 170, np.uint16))
    return path


@pytest.fixture
def tiny_shd_root(tmp_path: Path) -> Path:
    """``shd_train.h5`` (40 samples) and ``shd_test.h5`` (20 samples) of 0.3 s each."""
    write_tiny_shd(tmp_path / "shd_train.h5", 40, 0)
    write_tiny_shd(tmp_path / "shd_test.h5", 20, 1)
    return tmp_path
