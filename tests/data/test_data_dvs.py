"""CIFAR10-DVS (AEDAT 2.0) and DVS128 Gesture (AEDAT 3.1 + label csv) on files written in those formats."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import torch

from snnlab.data import create_dataset
from snnlab.data.aedat import read_aedat2, read_aedat31, read_cifar10dvs, write_aedat2, write_aedat31
from snnlab.data.dvs import CIFAR10DVS_CLASSES


def test_aedat2_bits_by_hand(tmp_path):
    # address: y = 5 (bits 8-14), x = 3 (bits 1-7), polarity 1 (bit 0); big-endian words
    addr = (5 << 8) | (3 << 1) | 1
    (tmp_path / "a.aedat").write_bytes(b"#!AER-DAT2.0\r\n# comment\r\n" + struct.pack(">II", addr, 1234))
    a, t = read_aedat2(tmp_path / "a.aedat")
    assert a.tolist() == [addr] and t.tolist() == [1234]
    ev = read_cifar10dvs(tmp_path / "a.aedat")  # spikingjelly's orientation: x = 127 - y, y = 127 - x, p = 1 - p
    assert (int(ev["x"][0]), int(ev["y"][0]), int(ev["p"][0]), int(ev["t"][0])) == (122, 124, 0, 1234)


def test_aedat31_bits_by_hand_and_round_trip(tmp_path):
    head = struct.pack("<hhiiiiii", 1, 1, 8, 4, 1, 2, 2, 1)  # polarity packet, overflow 1, 2 events
    valid = (17 << 17) | (9 << 2) | (1 << 1) | 1  # x 17, y 9, ON, valid
    invalid = (3 << 17) | 0
    body = struct.pack("<IiIi", valid, 100, invalid, 101)
    (tmp_path / "b.aedat").write_bytes(b"#!AER-DAT3.1\r\n#!END-HEADER\r\n" + head + body)
    ev = read_aedat31(tmp_path / "b.aedat")
    assert len(ev) == 1 and (int(ev["x"][0]), int(ev["y"][0]), int(ev["p"][0])) == (17, 9, 1)
    assert int(ev["t"][0]) == (1 << 31) | 100
    rng = np.random.default_rng(0)
    x, y, p = rng.integers(0, 128, 50), rng.integers(0, 128, 50), rng.integers(0, 2, 50)
    t = np.sort(rng.integers(0, 10**6, 50))
    back = read_aedat31(write_aedat31(tmp_path / "c.aedat", x, y, p, t, packet_events=7))
    assert back["x"].tolist() == x.tolist() and back["t"].tolist() == t.tolist() and back["p"].tolist() == p.tolist()


def write_cifar10dvs(root, per_class=10, n_events=200, seed=0):
    rng = np.random.default_rng(seed)
    for name in CIFAR10DVS_CLASSES:
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            t = np.sort(rng.integers(0, 10**6, n_events))
            write_aedat2(
                root / name / f"cifar10_{name}_{i}.aedat",
                rng.integers(0, 128, n_events),
                rng.integers(0, 128, n_events),
                rng.integers(0, 2, n_events),
                t,
            )
    return root


def test_cifar10dvs_split_and_equal_count_frames(tmp_path):
    root = write_cifar10dvs(tmp_path / "c10dvs")
    train = create_dataset("cifar10dvs", str(root), "train", T=4)
    test = create_dataset("cifar10dvs", str(root), "test", T=4)
    assert (len(train), len(test)) == (90, 10) and train.num_classes == 10 and train.input_shape == (2, 128, 128)
    x, y = test[0]
    assert tuple(x.shape) == (4, 2, 128, 128) and y == 0
    assert x.sum(dim=(1, 2, 3)).tolist() == [50.0] * 4  # 200 events in 4 frames of equal counts
    # name order as spikingjelly lists files: cifar10_airplane_9 is a test recording (90 % cut by name)
    ev = read_cifar10dvs(root / "airplane" / "cifar10_airplane_9.aedat")
    frame = torch.zeros(2, 128, 128)
    np.add.at(frame.numpy(), (ev["p"].astype(int), ev["y"].astype(int), ev["x"].astype(int)), 1)
    torch.testing.assert_close(x.sum(0), frame)
    valid = create_dataset("cifar10dvs", str(root), "valid", T=4, valid_size=10)
    fit = create_dataset("cifar10dvs", str(root), "train", T=4, valid_size=10, holdout_valid=True)
    assert len(valid) == 10 and len(fit) == 80 and np.bincount(valid.labels).tolist() == [1] * 10


def write_gesture(root, seed=0):
    rng = np.random.default_rng(seed)
    folder = root / "DvsGesture"
    folder.mkdir(parents=True)
    trials = {"train": ["user01_fluorescent.aedat", "user02_led.aedat"], "test": ["user24_natural.aedat"]}
    for split, names in trials.items():
        (folder / f"trials_to_{split}.txt").write_text("\n".join(names) + "\n")
        for name in names:
            n = 3000
            t = np.sort(rng.integers(0, 6_000_000, n))
            write_aedat31(folder / name, rng.integers(0, 128, n), rng.integers(0, 128, n), rng.integers(0, 2, n), t)
            rows = ["class,startTime_usec,endTime_usec"] + [
                f"{c},{c * 500_000},{c * 500_000 + 400_000}" for c in range(1, 12)
            ]
            (folder / name.replace(".aedat", "_labels.csv")).write_text("\n".join(rows) + "\n")
    return root


def test_dvs128_gesture_samples_from_label_rows(tmp_path):
    root = write_gesture(tmp_path / "gesture")
    train = create_dataset("dvs128_gesture", str(root), "train", T=8, split_by="time", duration_us=400_000)
    test = create_dataset("dvs128_gesture", str(root), "test", T=8)
    assert (len(train), len(test)) == (22, 11) and train.num_classes == 11
    assert train.labels.tolist() == list(range(11)) * 2
    ev = read_aedat31(root / "DvsGesture" / "user01_fluorescent.aedat")
    inside = (ev["t"] >= 1_500_000) & (ev["t"] < 1_900_000)  # class 3 -> label 2
    x, y = train[2]
    assert y == 2 and tuple(x.shape) == (8, 2, 128, 128) and float(x.sum()) == float(inside.sum())
    first = ev[inside & (ev["t"] < 1_550_000)]
    assert float(x[0].sum()) == len(first)  # time bins of 50 ms from the row's start


@pytest.mark.parametrize("options, match", [({"split_by": "count"}, "split_by"), ({"split": "dev"}, "valid splits")])
def test_dvs_bad_options(tmp_path, options, match):
    from snnlab.errors import SnnlabError

    root = write_cifar10dvs(tmp_path / "c", per_class=2, n_events=10)
    with pytest.raises(SnnlabError, match=match):
        create_dataset("cifar10dvs", str(root), **{"split": "train", **options})
