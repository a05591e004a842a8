"""N-TIDIGITS reader on files written with ``write_ntidigits``."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from snnlab.data.ntidigits import CLASSES, ntidigits_dataset, write_ntidigits
from snnlab.errors import DataError


@pytest.fixture
def ntidigits_file(tmp_path: Path) -> Path:
    """A tiny file in the published N-TIDIGITS layout: single digits, one sequence, 2 s recordings."""
    rng = np.random.default_rng(0)

    def sample(sid: str, channel: int):
        ch = np.concatenate([np.full(30, channel), rng.integers(0, 64, 10)])
        ts = np.sort(rng.uniform(0.0, 2.0, ch.size))
        return sid, ch, ts

    items = [sample("man-ae-o", 5), sample("man-ae-z", 10), sample("woman-af-3", 20), sample("man-ag-19z", 1)]
    path = tmp_path / "n-tidigits.hdf5"
    write_ntidigits(path, {"train": items, "test": items[:2]})
    return path


def test_single_digits_labels_and_binary_frames(ntidigits_file):
    ds = ntidigits_dataset(str(ntidigits_file.parent), "train")
    assert len(ds) == 3  # the sequence "19z" is skipped
    assert ds.labels.tolist() == [10, 0, 3]  # o = 10, z = 0, digits are themselves
    assert CLASSES[10] == "o" and CLASSES[0] == "z" and ds.num_classes == 11
    x, y = ds[0]
    assert x.shape == (129, 64) and y == 10
    assert set(x.unique().tolist()) <= {0.0, 1.0}
    assert x[:, 5].sum() > x.sum(0).median()  # the sample's busy channel
    counts, _ = ntidigits_dataset(str(ntidigits_file), "test", n_time_bins=20, binary=False)[0]
    assert counts.shape == (20, 64) and counts.sum() == 40 and counts.max() > 1


def test_missing_and_non_hdf5_files(tmp_path):
    with pytest.raises(DataError, match="n-tidigits.hdf5"):
        ntidigits_dataset(str(tmp_path), "train")
    bad = tmp_path / "n-tidigits.hdf5"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(DataError, match="n-tidigits.hdf5 is not a valid"):
        ntidigits_dataset(str(bad), "train")


@pytest.mark.parametrize(
    "channels, times, words",
    [
        (np.array([1, 70]), np.array([0.1, 0.2]), "channel ids outside 0..63"),
        (np.array([1, 2]), np.array([0.3, 0.2]), "unsorted"),
    ],
)
def test_corrupt_samples_name_file_and_sample(tmp_path, channels, times, words):
    path = tmp_path / "broken.hdf5"
    write_ntidigits(path, {"train": [("man-a-1", np.array([1]), np.array([0.1])), ("man-b-2", channels, times)]})
    ds = ntidigits_dataset(str(path), "train")
    ds[0]
    with pytest.raises(DataError, match=rf"broken.hdf5: sample 1 \('man-b-2'\) has .*{words}"):
        ds[1]


def test_length_mismatch_and_bad_label(tmp_path):
    path = tmp_path / "broken.hdf5"
    write_ntidigits(path, {"train": [("man-a-1", np.array([1, 2]), np.array([0.1, 0.2]))]})
    with h5py.File(path, "a") as f:
        del f["train_timestamps/man-a-1"]
        f["train_timestamps/man-a-1"] = np.array([0.1], dtype=np.float32)
    with pytest.raises(DataError, match=r"broken.hdf5: sample 0 \('man-a-1'\) has 2 addresses but 1"):
        ntidigits_dataset(str(path), "train")[0]
    write_ntidigits(path, {"train": [("man-a-x", np.array([1]), np.array([0.1]))]})
    with pytest.raises(DataError, match=r"broken.hdf5: train sample 0 \('man-a-x'\) has label 'x'"):
        ntidigits_dataset(str(path), "train")
