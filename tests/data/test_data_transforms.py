"""Event transforms, frame masks and collation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from snnlab.data import (
    CenterCrop,
    ChannelMask,
    Compose,
    Crop,
    Denoise,
    Downsample,
    RefractoryFilter,
    TimeMask,
    ToFrame,
    collate_time_major,
    make_events,
)
from snnlab.data.shd import bin_sample
from snnlab.errors import ConfigError, DataError, ShapeError


def test_fixed_duration_edges_ignore_first_and_last_event():
    ev = make_events(t=[250, 260, 999, 1000, 5], x=[0, 1, 2, 3, 0], y=[0, 0, 1, 1, 0], p=[1, 0, 1, 1, 0])
    ev = ev[np.argsort(ev["t"], kind="stable")]
    frames = ToFrame((4, 2, 2), n_time_bins=4, duration=1000)(ev)  # bins [0,250) [250,500) [500,750) [750,1000)
    assert frames.shape == (4, 2, 2, 4) and frames.dtype == np.float32
    assert frames[0, 0, 0, 0] == 1 and frames[1, 1, 0, 0] == 1 and frames[1, 0, 0, 1] == 1
    assert frames[3, 1, 1, 2] == 1 and frames.sum() == 4  # t = 1000 lies outside the duration


def test_single_event_is_not_lost_without_duration():
    frames = ToFrame((3, 3, 2), n_time_bins=5)(make_events(t=[42], x=[1], y=[2], p=[1]))
    assert frames.sum() == 1 and frames[4, 1, 2, 1] == 1


def test_time_window_and_event_count():
    ev = make_events(t=np.arange(0, 1000, 100), x=np.zeros(10), y=np.zeros(10), p=np.zeros(10))
    by_window = ToFrame((1, 1, 1), time_window=300)(ev)
    assert by_window.reshape(-1).tolist() == [3, 3, 3, 1]
    by_count = ToFrame((1, 1, 1), event_count=4)(ev)
    assert by_count.reshape(-1).tolist() == [4, 4, 2]
    fixed = ToFrame((1, 1, 1), time_window=300, duration=1500)
    assert fixed.timesteps() == 5 and fixed(ev).shape[0] == 5


def test_one_row_sensor_gives_channel_frames():
    ev = make_events(t=[0, 10, 20], x=[5, 699, 5])
    frames = ToFrame((700, 1, 1), n_time_bins=2, duration=40)(ev)
    assert frames.shape == (2, 1, 700) and frames[0, 0, 5] == 1 and frames[0, 0, 699] == 1 and frames[1, 0, 5] == 1


def test_downsample_matches_shd_channel_grouping():
    rng = np.random.default_rng(0)
    t_s = np.sort(rng.uniform(0, 0.5, 300))
    units = rng.integers(0, 700, 300)
    ev = make_events(t=np.floor(t_s * 1e6).astype(np.int64), x=units)
    down = Downsample(factor=(5, 1))
    assert down.output_size((700, 1, 1)) == (140, 1, 1)
    frames = ToFrame(down.output_size((700, 1, 1)), time_window=10_000, duration=500_000)(down(ev))
    expected = bin_sample(np.floor(t_s * 1e6) / 1e6, units, dt=0.01, n_bins=5, n_steps=50)
    np.testing.assert_array_equal(frames[:, 0, :], expected)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 33), st.integers(0, 33), st.integers(0, 1)), max_size=60),
    st.integers(1, 20),
)
def test_toframe_conserves_events_in_window(rows, n_bins):
    rows = sorted(rows)
    ev = make_events(*(np.array(c, dtype=np.int64).reshape(-1) for c in zip(*rows))) if rows else make_events([], [])
    frames = ToFrame((34, 34, 2), n_time_bins=n_bins, duration=5_000)(ev)
    assert frames.shape == (n_bins, 2, 34, 34)
    assert frames.sum() == (ev["t"] < 5_000).sum()


def test_crop_and_center_crop():
    ev = make_events(t=[0, 1, 2], x=[9, 24, 25], y=[9, 24, 9], p=[0, 1, 1])
    out = CenterCrop((34, 34, 2), 16)(ev)
    assert out["x"].tolist() == [0, 15] and out["y"].tolist() == [0, 15]
    assert len(Crop(0, 0, 10, 10)(ev)) == 1
    with pytest.raises(ConfigError, match="must fit"):
        CenterCrop((34, 34, 2), 40)


def test_refractory_filter_keeps_spacing_per_pixel():
    ev = make_events(t=[0, 500, 600, 1200, 1300], x=[1, 1, 2, 1, 1], y=[0, 0, 0, 0, 0])
    out = RefractoryFilter(1000)(ev)
    assert out["t"].tolist() == [0, 600, 1200]


def test_denoise_drops_isolated_events():
    ev = make_events(t=[0, 100, 5000, 20000], x=[5, 6, 20, 20], y=[5, 5, 20, 21])
    out = Denoise(filter_time_us=1000)(ev)
    assert out["t"].tolist() == [100]  # only the event with a recent neighbour survives


def test_compose_and_validation():
    ev = make_events(t=[0, 10], x=[33, 3], y=[3, 3], p=[0, 1])
    chain = Compose([CenterCrop((34, 34, 2), 30), ToFrame((30, 30, 2), n_time_bins=1)])
    assert chain(ev).sum() == 1
    with pytest.raises(ConfigError, match="exactly one"):
        ToFrame((2, 2, 2), n_time_bins=3, time_window=10)
    with pytest.raises(ConfigError, match="n_time_bins must be > 0"):
        ToFrame((2, 2, 2), n_time_bins=0)
    with pytest.raises(ConfigError, match="n_time_bins must be a positive integer"):
        ToFrame((2, 2, 2), n_time_bins=2.5)
    with pytest.raises(ConfigError, match="sensor_size"):
        ToFrame((2, 2), n_time_bins=1)
    with pytest.raises(DataError, match="field 'x' spans"):
        ToFrame((2, 2, 2), n_time_bins=1)(ev)
    with pytest.raises(ConfigError, match="not callable"):
        Compose([3])
    with pytest.raises(ConfigError):
        RefractoryFilter(-1)


def test_masks_zero_spans_and_are_seeded():
    x = torch.ones(20, 8)
    a, b = TimeMask(5, n_masks=1, seed=3)(x), TimeMask(5, n_masks=1, seed=3)(x)
    assert torch.equal(a, b) and 1 <= (a.sum(1) == 0).sum() <= 5 and x.sum() == 160
    c = ChannelMask(3, n_masks=1, seed=1)(torch.ones(4, 2, 3, 3))
    zero_features = (c.reshape(4, -1).sum(0) == 0).sum()
    assert 1 <= zero_features <= 3
    with pytest.raises(ConfigError):
        TimeMask(0)
    with pytest.raises(ShapeError):
        ChannelMask(2)(torch.ones(5))


def test_collate_pads_at_the_end_and_checks_shapes():
    batch = [(torch.ones(3, 2), 1), (torch.ones(5, 2) * 2, 0)]
    x, y = collate_time_major(batch)
    assert tuple(x.shape) == (5, 2, 2) and y.tolist() == [1, 0]
    assert x[3:, 0].sum() == 0 and x[:3, 0].sum() == 6 and x[:, 1].sum() == 20
    with pytest.raises(ShapeError):
        collate_time_major([(torch.ones(3, 2), 0), (torch.ones(3, 4), 0)])
    with pytest.raises(ShapeError):
        collate_time_major([])
