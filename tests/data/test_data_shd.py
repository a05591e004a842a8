"""SHD/SSC HDF5 reader: binning, channel grouping, frame cache, speaker split, corrupt files."""

from __future__ import annotations

import os

import h5py
import numpy as np
import pytest

from snnlab.data import ChannelMask, TimeMask, collate_time_major, create_dataset
from snnlab.data.shd import bin_sample
from snnlab.errors import ConfigError, DataError

from .conftest import random_spikes, write_shd_h5


def _manual_frames(times, units, dt, group):
    steps = int(np.floor(np.asarray(times, np.float64).max() / dt)) + 1
    out = np.zeros((steps, 700 // group))
    for t, u in zip(np.asarray(times, np.float64), units):
        out[int(np.floor(t / dt)), int(u) // group] += 1
    return out


def test_frames_match_a_hand_count(shd_root):
    ds = create_dataset("shd", str(shd_root), "test")
    assert ds.num_classes == 20 and ds.input_shape == (140,) and ds.timesteps is None
    with h5py.File(shd_root / "shd_test.h5") as f:
        times, units = f["spikes/times"][3], f["spikes/units"][3]
    x, y = ds[3]
    np.testing.assert_array_equal(x.numpy(), _manual_frames(times, units, 0.01, 5))
    assert y == 3 and x.dtype.is_floating_point


def test_counts_not_binary():
    frames = bin_sample(np.array([0.001, 0.002, 0.003]), np.array([0, 1, 4]), dt=0.01, n_bins=5, n_steps=None)
    assert frames.shape == (1, 140) and frames[0, 0] == 3


def test_fixed_duration_and_custom_grouping(shd_root):
    ds = create_dataset("shd", str(shd_root), "train", dt=0.05, n_bins=7, duration=0.5)
    assert ds.timesteps == 10 and ds.input_shape == (100,)
    assert all(ds[i][0].shape == (10, 100) for i in range(len(ds)))
    xb, yb = collate_time_major([ds[i] for i in range(4)])
    assert tuple(xb.shape) == (10, 4, 100)


def test_variable_length_batches_pad_at_the_end(shd_root):
    ds = create_dataset("shd", str(shd_root), "train")
    items = [ds[i] for i in range(6)]
    xb, _ = collate_time_major(items)
    longest = max(x.shape[0] for x, _ in items)
    assert xb.shape[0] == longest
    for b, (x, _) in enumerate(items):
        assert xb[x.shape[0] :, b].abs().sum() == 0
        assert (xb[: x.shape[0], b] == x).all()


def test_cache_is_written_once_and_reused(shd_root, tmp_path):
    cache_dir = tmp_path / "frames"
    create_dataset("shd", str(shd_root), "train", cache_dir=str(cache_dir))
    files = list(cache_dir.glob("*.h5"))
    assert len(files) == 1
    mtime = files[0].stat().st_mtime_ns
    ds = create_dataset("shd", str(shd_root), "train", cache_dir=str(cache_dir))
    assert files[0].stat().st_mtime_ns == mtime and len(ds) == 24
    create_dataset("shd", str(shd_root), "train", cache_dir=str(cache_dir), dt=0.02)
    assert len(list(cache_dir.glob("*.h5"))) == 2  # other parameters -> other key


def test_cache_key_follows_the_source_file(shd_root, tmp_path):
    cache_dir = tmp_path / "frames"
    a = create_dataset("shd", str(shd_root), "test", cache_dir=str(cache_dir))
    rng = np.random.default_rng(9)
    spikes = [random_spikes(rng, 30) for _ in range(3)]
    write_shd_h5(
        shd_root / "shd_test.h5", [s[0] for s in spikes], [s[1] for s in spikes], [1, 2, 3], [4, 4, 5], keys=[b"k"] * 20
    )
    os.utime(shd_root / "shd_test.h5", ns=(1, 1))
    b = create_dataset("shd", str(shd_root), "test", cache_dir=str(cache_dir))
    assert len(a) == 6 and len(b) == 3 and b.labels.tolist() == [1, 2, 3]


def test_speaker_validation_split(shd_root):
    full = create_dataset("shd", str(shd_root), "train")
    valid = create_dataset("shd", str(shd_root), "valid")
    train = create_dataset("shd", str(shd_root), "train", holdout_valid=True)
    assert len(valid) + len(train) == len(full) == 24
    assert full.contains_valid and not train.contains_valid and not valid.contains_valid
    assert len(valid) >= 0.1 * 24
    with h5py.File(shd_root / "shd_train.h5") as f:
        spk = f["extra/speaker"][()]
    assert set(spk[valid.indices]).isdisjoint(spk[train.indices])
    again = create_dataset("shd", str(shd_root), "valid")
    assert again.indices.tolist() == valid.indices.tolist()
    chosen = create_dataset("shd", str(shd_root), "valid", valid_speakers=[0])
    assert set(spk[chosen.indices]) == {0}


def test_fixed_2d_layout_reads_like_vlen(tmp_path):
    rng = np.random.default_rng(5)
    spikes = [random_spikes(rng, n) for n in (10, 25, 17)]
    for name, vlen in (("a", True), ("b", False)):
        (tmp_path / name).mkdir()
        write_shd_h5(
            tmp_path / name / "shd_test.h5",
            [s[0] for s in spikes],
            [s[1] for s in spikes],
            [0, 1, 2],
            [0, 0, 1],
            keys=[b"k"] * 20,
            vlen=vlen,
        )
    a, b = (create_dataset("shd", str(tmp_path / n), "test") for n in ("a", "b"))
    for i in range(3):
        assert (a[i][0] == b[i][0]).all()


def test_ssc_has_a_valid_file(tmp_path):
    rng = np.random.default_rng(6)
    spikes = [random_spikes(rng, 12) for _ in range(4)]
    write_shd_h5(
        tmp_path / "ssc_valid.h5",
        [s[0] for s in spikes],
        [s[1] for s in spikes],
        [0, 34, 3, 3],
        [1, 2, 3, 4],
        keys=[b"k"] * 35,
    )
    ds = create_dataset("ssc", str(tmp_path), "valid")
    assert ds.num_classes == 35 and len(ds) == 4 and ds.labels.tolist() == [0, 34, 3, 3]


@pytest.mark.parametrize(
    "times, units, message",
    [
        ([0.1, 0.2], [5, 700], "channel ids span"),
        ([0.3, 0.2], [5, 6], "not sorted"),
        ([-0.1, 0.2], [5, 6], ">= 0"),
    ],
)
def test_corrupt_sample_names_file_and_index(tmp_path, times, units, message):
    good = random_spikes(np.random.default_rng(7), 5)
    write_shd_h5(
        tmp_path / "shd_test.h5",
        [good[0], np.array(times)],
        [good[1], np.array(units)],
        [0, 1],
        [0, 1],
        keys=[b"k"] * 20,
    )
    with pytest.raises(DataError, match=rf"shd_test\.h5: sample 1: .*{message}"):
        create_dataset("shd", str(tmp_path), "test")


def test_length_mismatch_is_reported(tmp_path):
    write_shd_h5(tmp_path / "shd_test.h5", [np.array([0.1, 0.2])], [np.array([1])], [0], [0], keys=[b"k"] * 20)
    with pytest.raises(DataError, match="sample 0: spikes/times has 2 values but spikes/units 1"):
        create_dataset("shd", str(tmp_path), "test")


def test_missing_file_and_bad_options(tmp_path, shd_root):
    with pytest.raises(DataError, match=r"shd_train\.h5.*zenkelab\.org/datasets"):
        create_dataset("shd", str(tmp_path / "empty"), "train")
    with pytest.raises(ConfigError, match="n_bins"):
        create_dataset("shd", str(shd_root), "train", n_bins=0)
    with pytest.raises(DataError, match="valid splits"):
        create_dataset("ssc", str(shd_root), "dev")


def test_masks_apply_to_frames(shd_root):
    ds = create_dataset(
        "shd", str(shd_root), "train", duration=0.9, frame_transform=TimeMask(max_width=3, n_masks=2, seed=0)
    )
    x, _ = ds[0]
    assert (x.sum(1) == 0).sum() >= 1
    masked = ChannelMask(max_width=10, n_masks=1, seed=0)(x)
    assert (masked.sum(0) == 0).sum() >= (x.sum(0) == 0).sum()
