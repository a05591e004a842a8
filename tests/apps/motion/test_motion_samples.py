"""Training voxels: segment age, event gate, settled sampling and past windows."""

from __future__ import annotations

import pytest
import torch

from snnlab.apps.motion.samples import gate_mask, past_windows, sample_voxels, segment_age, settled_steps
from snnlab.errors import ConfigError, ShapeError


def test_segment_age_restarts_at_each_change():
    labels = torch.tensor([[2, 2, 2, 0, 0, 1], [1, 1, 1, 1, 1, 1]])
    assert segment_age(labels).tolist() == [[0, 1, 2, 0, 1, 0], [0, 1, 2, 3, 4, 5]]
    assert settled_steps(labels, warmup=1, settle=2).tolist() == [
        [False, True, False, False, False],
        [False, True, True, True, True],
    ]
    with pytest.raises(ShapeError, match="movies, time"):
        segment_age(torch.zeros(6, dtype=torch.long))
    with pytest.raises(ShapeError, match="warmup"):
        settled_steps(labels, warmup=6, settle=0)


def test_gate_marks_voxels_with_an_event_of_either_polarity():
    x = torch.zeros(1, 2, 3, 2, 2)
    x[0, 0, 1, 0, 1] = 1.0  # OFF
    x[0, 1, 2, 1, 1] = 1.0  # ON
    mask = gate_mask(x, "events")
    assert mask.shape == (1, 3, 2, 2) and mask.sum() == 2 and mask[0, 1, 0, 1] and mask[0, 2, 1, 1]
    assert gate_mask(x, "all").all()
    with pytest.raises(ConfigError, match="gate"):
        gate_mask(x, "spikes")


def test_samples_are_gated_settled_and_seeded():
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(3, 2, 20, 6, 6, generator=g) < 0.1).float()
    labels = torch.tensor([[0] * 8 + [1] * 12, [2] * 20, [1] * 5 + [3] * 15])
    index = sample_voxels(x, labels, "events", settle=4, per_movie=50, generator=torch.Generator().manual_seed(1))
    assert index.shape == (150, 4)
    n, t, y, xx = index.T
    assert x[n, :, t, y, xx].amax(dim=1).eq(1).all()  # every sample has an event
    assert (segment_age(labels)[n, t] >= 4).all()  # and is >= 4 steps into its segment
    again = sample_voxels(x, labels, "events", settle=4, per_movie=50, generator=torch.Generator().manual_seed(1))
    assert torch.equal(index, again)
    with pytest.raises(ConfigError, match="settle"):
        sample_voxels(x, labels, "events", settle=-1, per_movie=5, generator=g)


def test_past_window_reads_delays_and_offsets_like_the_kernel():
    x = torch.zeros(1, 2, 10, 7, 7)
    x[0, 1, 3, 2, 5] = 1.0  # ON event at t=3, y=2, x=5
    window = past_windows(x, torch.tensor([[0, 5, 3, 4]]), kernel_t=4, kernel_xy=3)  # voxel t=5, y=3, x=4
    assert window.shape == (1, 2, 4, 3, 3)
    # delay 2, dy = 3 - 2 = +1, dx = 4 - 5 = -1  ->  [p=1, d=2, dy+1=2, dx+1=0]
    assert torch.nonzero(window).tolist() == [[0, 1, 2, 2, 0]]
    early = past_windows(x, torch.tensor([[0, 0, 0, 0]]), kernel_t=4, kernel_xy=3)
    assert early.sum() == 0  # before the movie and outside the frame: zeros
