"""SHD/SSC framing: spikingjelly's 2023 event-opened frames (the DCLS paper's) beside the fixed grid."""

from __future__ import annotations

import numpy as np
import pytest

from snnlab.data import create_dataset
from snnlab.data.shd import event_frame_index, frame_sample
from snnlab.errors import ConfigError

from .conftest import write_shd_h5

# One sample, hand-checked. Times in ms as float16 makes them: 0, 4, 10.0 (0.01 s is 0.0100021 in
# float16, and 1000 x that rounds to 10.0 in float16), 10.5, 30, 30.5, 41, 52.
TIMES = np.array([0.0, 0.004, 0.010, 0.0105, 0.030, 0.0305, 0.041, 0.052], np.float16)
UNITS = np.array([0, 5, 699, 3, 10, 12, 650, 1], np.uint16)
# 10 ms frames opened at the next spike: [0, 4, 10] (10 - 0 <= 10 closes it inclusively), [10.5]
# (the next spike, 30, is 19.5 ms later), the silence 10.5-30 dropped, [30, 30.5] (41 - 30 > 10),
# [41] (52 - 41 > 10), [52].
FRAME_OF_SPIKE = [0, 0, 0, 1, 2, 2, 3, 4]


def _expected(n_frames: int) -> np.ndarray:
    out = np.zeros((n_frames, 140), np.int64)
    for frame, unit in zip(FRAME_OF_SPIKE, UNITS):
        if frame < n_frames:
            out[frame, int(unit) // 5] += 1
    return out


def test_event_framing_by_hand():
    times = TIMES.astype(np.float64)
    assert event_frame_index(times, 0.01, np.dtype(np.float16)).tolist() == FRAME_OF_SPIKE
    frames = frame_sample(times, UNITS.astype(np.int64), 0.01, 5, None, "events", np.dtype(np.float16))
    np.testing.assert_array_equal(frames, _expected(5))
    assert frames[0, 0] == 1 and frames[0, 1] == 1 and frames[0, 139] == 1 and frames[2, 2] == 2
    # In float64 the third spike is at 10.0021 ms > 10: it would open the second frame. The file's
    # float16 precision is part of the framing, as in spikingjelly.
    assert event_frame_index(times, 0.01, np.dtype(np.float64)).tolist() == [0, 0, 1, 1, 2, 2, 3, 4]


def test_fixed_duration_pads_or_truncates_event_frames():
    times, units = TIMES.astype(np.float64), UNITS.astype(np.int64)
    f16 = np.dtype(np.float16)
    np.testing.assert_array_equal(frame_sample(times, units, 0.01, 5, 8, "events", f16), _expected(8))
    np.testing.assert_array_equal(frame_sample(times, units, 0.01, 5, 3, "events", f16), _expected(3))


def test_grid_keeps_silences_and_starts_at_zero():
    grid = frame_sample(TIMES.astype(np.float64), UNITS.astype(np.int64), 0.01, 5, None, "grid")
    assert grid.shape == (6, 140) and grid.sum() == len(TIMES)  # 0-60 ms in 10 ms windows from t = 0
    events = frame_sample(TIMES.astype(np.float64), UNITS.astype(np.int64), 0.01, 5, None, "events")
    assert events.shape[0] == 5 and events.sum() == grid.sum()


def test_dataset_option_reads_the_file_in_its_precision(tmp_path):
    keys = [f"digit-{i}".encode() for i in range(20)]
    for split in ("train", "test"):
        write_shd_h5(
            tmp_path / f"shd_{split}.h5",
            [TIMES, TIMES[:3]],
            [UNITS, UNITS[:3]],
            labels=[4, 7],
            speakers=[0, 1],
            keys=keys,
        )
    events = create_dataset("shd", str(tmp_path), "test", framing="events")
    grid = create_dataset("shd", str(tmp_path), "test")
    x, y = events[0]
    np.testing.assert_array_equal(x.numpy(), _expected(5))
    assert y == 4 and events.framing == "events" and grid.framing == "grid"
    assert grid[0][0].shape[0] == 6  # a separate cache entry, not the events one
    assert events[1][0].shape[0] == 1  # three spikes within 10 ms: one frame
    with pytest.raises(ConfigError, match="framing"):
        create_dataset("shd", str(tmp_path), "test", framing="sliding")
