"""The embedded digits: DVS conversion, split, frames, and that the digit survives encoding."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from snnlab.data import collate_time_major, create_dataset
from snnlab.data.digits import DigitsConfig, convert, saccade_path
from snnlab.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def train_test():
    return create_dataset("digits", None, "train"), create_dataset("digits", None, "test")


def test_split_sizes_and_attributes(train_test):
    train, test = train_test
    assert (len(train), len(test)) == (1437, 360)
    for ds in train_test:
        assert ds.num_classes == 10 and ds.input_shape == (2, 16, 16) and ds.timesteps == 16
    assert set(np.bincount(test.labels, minlength=10)) <= {35, 36, 37}  # stratified


def test_item_is_time_major_float(train_test):
    x, y = train_test[0][0]
    assert x.dtype == torch.float32
    assert tuple(x.shape) == (16, 2, 16, 16) and isinstance(y, int) and 0 <= y < 10
    xb, yb = collate_time_major([train_test[0][i] for i in range(4)])
    assert tuple(xb.shape) == (16, 4, 2, 16, 16) and tuple(yb.shape) == (4,)


def test_events_well_formed(train_test):
    train = train_test[0]
    dur = DigitsConfig().duration_us
    for i in (0, 100, 1000):
        ev = train.events(i)
        assert 300 < len(ev) < 10000
        assert np.all(np.diff(ev["t"]) >= 0) and ev["t"].min() >= 0 and ev["t"].max() < dur
        assert ev["x"].max() < 16 and ev["y"].max() < 16 and set(np.unique(ev["p"])) <= {0, 1}


def test_conversion_is_deterministic_and_seeded():
    images = load_digits().images[:20].astype(np.float64)
    a, b = convert(images, DigitsConfig()), convert(images, DigitsConfig())
    np.testing.assert_array_equal(a.events, b.events)
    c = convert(images, DigitsConfig(seed=1))
    assert len(c.events) != len(a.events) or not np.array_equal(c.events, a.events)


def test_static_image_gives_no_events():
    images = load_digits().images[:5].astype(np.float64)
    store = convert(images, DigitsConfig(amplitude_px=0.0))
    assert len(store.events) == 0


def test_closed_path_balances_polarities():
    """The triangle returns to its start, so per pixel ON - OFF events cancel up to one threshold."""
    images = load_digits().images[:10].astype(np.float64)
    cfg = DigitsConfig(threshold_mismatch=0.0, jitter_us=0)
    store = convert(images, cfg)
    for i in range(len(store)):
        ev = store[i]
        signed = np.where(ev["p"] == 1, 1, -1)
        net = np.zeros(cfg.size * cfg.size, np.int64)
        np.add.at(net, ev["y"].astype(np.int64) * cfg.size + ev["x"], signed)
        assert np.abs(net).max() <= 1


def test_saccade_path_is_a_closed_triangle():
    cfg = DigitsConfig()
    t = np.array([0.0, 1e5, 2e5, 3e5])
    path = saccade_path(cfg, t)
    np.testing.assert_allclose(path[0], path[3])
    assert len({tuple(np.round(p, 6)) for p in path[:3]}) == 3


def test_summed_frames_keep_the_digit(train_test):
    """A logistic regression on time-summed frames must beat 90% (the encoding preserves the digit)."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    feats = [np.stack([ds.frames(i).sum(0).ravel() for i in range(len(ds))]) for ds in train_test]
    with threadpool_limits(1):  # one BLAS thread: fast and polite on a shared 2-core machine
        clf = LogisticRegression(max_iter=1000).fit(feats[0] / 5.0, train_test[0].labels)
    assert clf.score(feats[1] / 5.0, train_test[1].labels) > 0.90


def test_valid_split_is_a_fixed_stratified_tenth_of_train(train_test):
    train = train_test[0]
    valid = create_dataset("digits", None, "valid")
    fit = create_dataset("digits", None, "train", holdout_valid=True)
    assert (len(valid), len(fit)) == (144, 1293) and len(train) == 1437  # train keeps all by default
    assert set(np.bincount(valid.labels, minlength=10)) <= {14, 15}  # stratified: 10 % of each class
    assert set(valid.indices).isdisjoint(fit.indices)
    assert sorted([*valid.indices, *fit.indices]) == train.indices.tolist()
    again = create_dataset("digits", None, "valid", n_time_bins=8)
    assert again.indices.tolist() == valid.indices.tolist()  # fixed: independent of options and calls
    assert train.contains_valid and not fit.contains_valid and not valid.contains_valid
    test = create_dataset("digits", None, "test", holdout_valid=True)
    assert test.indices.tolist() == train_test[1].indices.tolist()  # the test split never changes
    np.testing.assert_array_equal(valid.frames(0), train.frames(train.indices.tolist().index(valid.indices[0])))


def test_bad_options_are_rejected():
    with pytest.raises(DataError, match="valid splits: train, valid, test"):
        create_dataset("digits", None, "dev")
    with pytest.raises(ConfigError, match="unknown option"):
        create_dataset("digits", None, "train", colour=3)
    with pytest.raises(ConfigError, match="threshold"):
        create_dataset("digits", None, "train", threshold=-1.0)
    with pytest.raises(DataError, match="valid names: digits"):
        create_dataset("svhn", None, "train")
