"""N-MNIST binary reader: the real sample, round trips with overflow markers, errors, fuzzing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snnlab.data import create_dataset
from snnlab.data.nmnist import decode_nmnist, read_nmnist
from snnlab.errors import DataError

from .conftest import random_recording, write_nmnist_bin


def test_real_sample_decodes_exactly(shared_data):
    ev = read_nmnist(shared_data / "nmnist_sample.bin")
    assert len(ev) == 4325
    assert ev["x"].min() >= 0 and ev["x"].max() <= 33 and ev["y"].min() >= 0 and ev["y"].max() <= 33
    assert set(np.unique(ev["p"])) == {0, 1}
    assert ev["t"][0] == 654 and ev["t"][-1] == 311175
    assert np.all(np.diff(ev["t"]) >= 0)


def test_real_sample_has_three_saccades(shared_data):
    ev = read_nmnist(shared_data / "nmnist_sample.bin")
    per_saccade = np.histogram(ev["t"], bins=[0, 105_000, 210_000, 320_000])[0]
    assert per_saccade.min() > 0.15 * len(ev)


def test_round_trip(tmp_path):
    x, y, p, t = random_recording(np.random.default_rng(3), 200)
    ev = read_nmnist(write_nmnist_bin(tmp_path / "a.bin", x, y, p, t))
    np.testing.assert_array_equal(ev["x"], x)
    np.testing.assert_array_equal(ev["y"], y)
    np.testing.assert_array_equal(ev["p"], p)
    np.testing.assert_array_equal(ev["t"], t)


def test_round_trip_with_overflow_markers(tmp_path):
    """Timestamps beyond 23 bits are stored with y = 240 markers, each worth 2**13 us."""
    rng = np.random.default_rng(4)
    x, y, p, _ = random_recording(rng, 6)
    t = np.array([10, 2**13 + 20, 2**23 - 5, 2**23 + 100, 2**23 + 2**13 + 7, 2**24])
    path = write_nmnist_bin(tmp_path / "o.bin", x, y, p, t, overflow_before=[1])
    n_markers = sum(1 for k in range(1, len(path.read_bytes()), 5) if path.read_bytes()[k] == 240)
    assert n_markers >= 1 + 2**23 // 2**13 - 1
    ev = read_nmnist(path)
    np.testing.assert_array_equal(ev["t"], t)
    np.testing.assert_array_equal(ev["x"], x)
    np.testing.assert_array_equal(ev["p"], p)


def test_overflow_marker_is_dropped_and_shifts_later_events():
    raw = bytes([1, 2, 0x80, 0, 5]) + bytes([0, 240, 0, 0, 0]) + bytes([3, 4, 0, 0, 6])
    ev = decode_nmnist(raw)
    assert ev["t"].tolist() == [5, 6 + 2**13] and ev["x"].tolist() == [1, 3] and ev["p"].tolist() == [1, 0]


def test_truncated_file_names_file_and_offset(tmp_path):
    path = tmp_path / "cut.bin"
    path.write_bytes(bytes(12))
    with pytest.raises(DataError, match=r"cut\.bin.*byte offset 10"):
        read_nmnist(path)


def test_out_of_range_coordinate_is_reported():
    with pytest.raises(DataError, match="byte offset 5"):
        decode_nmnist(bytes([1, 1, 0, 0, 1, 40, 1, 0, 0, 2]))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz_decoder_only_raises_data_error(data):
    try:
        ev = decode_nmnist(data, name="fuzz.bin")
    except DataError:
        return
    assert len(ev) <= len(data) // 5
    assert (ev["x"] < 34).all() and (ev["y"] < 34).all() and ev["t"].min(initial=0) >= 0


def test_dataset_frames_and_labels(nmnist_root):
    ds = create_dataset("nmnist", str(nmnist_root), "train", n_time_bins=10, duration_us=300_000)
    assert len(ds) == 6 and ds.labels.tolist() == [0, 0, 1, 1, 2, 2]
    x, y = ds[2]
    assert tuple(x.shape) == (10, 2, 34, 34) and y == 1 and ds.timesteps == 10
    assert float(x.sum()) == len(ds.events(2))
    assert ds.input_shape == (2, 34, 34) and ds.num_classes == 10


def test_dataset_crop_window_and_first_saccade(nmnist_root):
    ds = create_dataset("nmnist", str(nmnist_root), "test", time_window_us=10_000, first_saccade_only=True, crop=16)
    x, _ = ds[0]
    assert tuple(x.shape) == (10, 2, 16, 16) and ds.timesteps == 10
    ev = ds.events(0)
    assert ev["t"].max() < 100_000
    inside = (ev["x"] >= 9) & (ev["x"] < 25) & (ev["y"] >= 9) & (ev["y"] < 25)
    assert float(x.sum()) == inside.sum()


def test_dataset_errors(tmp_path, nmnist_root):
    with pytest.raises(DataError, match="Train"):
        create_dataset("nmnist", str(tmp_path / "nowhere"), "train")
    with pytest.raises(DataError, match="valid splits"):
        create_dataset("nmnist", str(nmnist_root), "valid")
    with pytest.raises(DataError, match="data.root"):
        create_dataset("nmnist", None, "train")
