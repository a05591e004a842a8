"""Synthetic DVS movies: determinism, event properties, motion direction recoverable from events."""

from __future__ import annotations

import numpy as np
import pytest

from snnlab.apps.motion.generator import (
    MovieConfig,
    dense_movie,
    dvs_events,
    generate_dataset,
    generate_movie,
    movie_from_texture,
    random_texture,
    saccade_walk,
)
from snnlab.data.events import EVENT_DTYPE, check_events
from snnlab.errors import ConfigError

SMALL = MovieConfig(size=16, n_steps=40, n_directions=4, speeds=[0.5, 1.0], threshold=0.5)


def test_same_seed_same_movie_other_seed_other_movie():
    a_events, a_labels = generate_movie(SMALL, (3, 1))
    b_events, b_labels = generate_movie(SMALL, (3, 1))
    c_events, _ = generate_movie(SMALL, (3, 2))
    assert np.array_equal(a_events, b_events) and np.array_equal(a_labels, b_labels)
    assert len(a_events) != len(c_events) or not np.array_equal(a_events, c_events)


def test_events_have_both_polarities_sorted_times_and_sensor_range():
    events, labels = generate_movie(SMALL, 0)
    assert events.dtype == EVENT_DTYPE and len(events) > 100
    check_events(events, (SMALL.size, SMALL.size, 2))
    assert np.all(np.diff(events["t"]) >= 0)
    assert events["t"].max() < SMALL.n_steps * 1000
    on = (events["p"] == 1).mean()
    assert 0.3 < on < 0.7  # ON and OFF both present, roughly balanced
    assert labels.shape == (SMALL.n_steps,) and labels.min() >= 0 and labels.max() < SMALL.n_classes


def test_velocity_labels_combine_direction_and_speed():
    cfg = MovieConfig(size=16, n_steps=400, n_directions=3, speeds=[0.5, 1.0], label="velocity")
    _, labels = generate_movie(cfg, 0)
    assert cfg.n_classes == 6 and set(np.unique(labels)) <= set(range(6)) and len(np.unique(labels)) > 2


def test_saccade_segments_are_constant_with_poisson_mean_duration():
    cfg = MovieConfig(n_steps=20000, mean_duration=24.0)
    velocity, directions, speeds = saccade_walk(cfg, np.random.default_rng(0))
    changes = np.flatnonzero(np.any(np.diff(velocity, axis=0) != 0, axis=1))
    mean_length = cfg.n_steps / (len(changes) + 1)
    assert 20 < mean_length < 30  # consecutive equal draws merge, so slightly above 24
    np.testing.assert_allclose(np.hypot(*velocity.T), np.asarray(cfg.speeds)[speeds])
    assert set(np.unique(directions)) == set(range(cfg.n_directions))


def test_texture_is_normalised():
    tex = random_texture(64, 1.0, 0.2, np.random.default_rng(0))
    assert tex.shape == (64, 64)
    assert abs(tex.mean()) < 1e-9 and abs(tex.std() - 1) < 1e-9


@pytest.mark.parametrize("direction", [1.0, -1.0])
def test_grating_moving_right_gives_on_events_where_intensity_rises(direction):
    """L(x, t) = sin(2 pi (x - v t) / 16): dL/dt > 0 (ON) where v cos(phase) < 0."""
    cfg = MovieConfig(size=32, n_steps=20, threshold=0.1)
    x = np.arange(32)
    texture = np.tile(np.sin(2 * np.pi * x / 16), (32, 1))  # (y, x), period 16 px
    velocity = np.tile([direction, 0.0], (cfg.n_steps, 1))  # pixels/ms along x
    events = movie_from_texture(texture, velocity, cfg)
    step = events["t"] // 1000
    phase = 2 * np.pi * (events["x"] - direction * step) / 16
    rising = direction * np.cos(phase) < 0
    on = events["p"] == 1
    assert on.sum() > 100 and (~on).sum() > 100
    assert rising[on].mean() > 0.9 and (~rising[~on]).mean() > 0.9


def test_residual_accumulation_counts_threshold_crossings():
    frames = np.zeros((3, 1, 1))
    frames[1], frames[2] = 0.25, -0.05  # +0.25: 2 ON (ref 0.2, residual 0.05); then -0.25: 2 OFF
    events = dvs_events(frames, 0.1)
    assert list(events["p"]) == [1, 1, 0, 0]
    assert list(events["t"] // 1000) == [1, 1, 2, 2]


def test_dense_movie_and_dataset_shapes():
    events, _ = generate_movie(SMALL, 0)
    voxels = dense_movie(events, SMALL)
    assert voxels.shape == (2, SMALL.n_steps, SMALL.size, SMALL.size) and voxels.dtype == np.uint8
    assert voxels.max() == 1 and voxels[:, 0].sum() == 0  # no change before the first frame
    x, y = generate_dataset(SMALL, 3, seed=5)
    assert x.shape == (3, 2, SMALL.n_steps, SMALL.size, SMALL.size) and y.shape == (3, SMALL.n_steps)
    np.testing.assert_array_equal(x[1], dense_movie(generate_movie(SMALL, (5, 1))[0], SMALL))


@pytest.mark.parametrize(
    "field, value",
    [("sigma", 0.0), ("sigma", -1.0), ("threshold", 0.0), ("speeds", []), ("label", "speed"), ("size", 1)],
)
def test_bad_movie_settings_raise_config_error_naming_the_field(field, value):
    cfg = MovieConfig(**{field: value})
    with pytest.raises(ConfigError, match=field):
        generate_movie(cfg, 0)


def test_bad_sigma_in_texture_raises():
    with pytest.raises(ConfigError, match="sigma"):
        random_texture(16, 1.0, -0.1, np.random.default_rng(0))
