"""Fixture writers for the data tests: tiny files in the exact published formats."""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np
import pytest


def encode_nmnist_event(x: int, y: int, p: int, t: int) -> bytes:
    """One 5-byte N-MNIST event: x, y, [p | t22..16], t15..8, t7..0 (t < 2**23)."""
    assert 0 <= t < 2**23
    return bytes([x, y, (p << 7) | (t >> 16), (t >> 8) & 0xFF, t & 0xFF])


def write_nmnist_bin(path: Path, x, y, p, t, overflow_before: Sequence[int] = ()) -> Path:
    """Write events to an N-MNIST .bin file. An overflow marker (y = 240) goes before each event
    index listed in ``overflow_before`` and wherever a time no longer fits 23 bits; every marker
    takes 2**13 off the stored times of the events after it."""
    out = bytearray()
    shift = 0
    for i in range(len(t)):
        n_markers = list(overflow_before).count(i)
        n_markers += max(0, -(-(int(t[i]) - shift - (2**23 - 1)) // 2**13) - n_markers)
        for _ in range(n_markers):
            out += encode_nmnist_event(0, 240, 0, 0)
            shift += 2**13
        out += encode_nmnist_event(int(x[i]), int(y[i]), int(p[i]), int(t[i]) - shift)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(out))
    return path


def random_recording(rng: np.random.Generator, n: int, t_max: int = 300_000):
    """Sorted random events on the 34x34x2 sensor: x, y, p, t."""
    t = np.sort(rng.integers(0, t_max, n))
    return rng.integers(0, 34, n), rng.integers(0, 34, n), rng.integers(0, 2, n), t


@pytest.fixture
def nmnist_root(tmp_path: Path) -> Path:
    """Train/<digit>/*.bin (2 per digit 0-2) and Test/<digit>/*.bin (1 per digit 0-2)."""
    rng = np.random.default_rng(0)
    for split, per_class in (("Train", 2), ("Test", 1)):
        for digit in range(3):
            for k in range(per_class):
                write_nmnist_bin(tmp_path / split / str(digit) / f"{k:05d}.bin", *random_recording(rng, 50 + digit))
    return tmp_path


def write_shd_h5(
    path: Path,
    times: Sequence[np.ndarray],
    units: Sequence[np.ndarray],
    labels,
    speakers,
    keys: Sequence[bytes],
    vlen: bool = True,
) -> Path:
    """Write the published SHD/SSC layout: ragged spikes/times (s, float16) and spikes/units (uint16),
    labels, extra/speaker, extra/keys, extra/meta_info. ``vlen=False`` writes padded 2-D arrays
    (the shape tonic's own test fixture uses)."""
    n = len(times)
    with h5py.File(path, "w") as f:
        if vlen:
            tds = f.create_dataset("spikes/times", (n,), dtype=h5py.vlen_dtype(np.float16))
            uds = f.create_dataset("spikes/units", (n,), dtype=h5py.vlen_dtype(np.uint16))
            for i in range(n):
                tds[i] = np.asarray(times[i], np.float16)
                uds[i] = np.asarray(units[i], np.uint16)
        else:
            width = max(len(t) for t in times)
            f.create_dataset(
                "spikes/times", data=np.stack([np.pad(np.asarray(t, np.float16), (0, width - len(t))) for t in times])
            )
            f.create_dataset(
                "spikes/units", data=np.stack([np.pad(np.asarray(u, np.uint16), (0, width - len(u))) for u in units])
            )
        f.create_dataset("labels", data=np.asarray(labels, np.uint16))
        f.create_dataset("extra/speaker", data=np.asarray(speakers, np.uint16))
        f.create_dataset("extra/keys", data=list(keys))
        n_spk = int(max(speakers)) + 1
        f.create_dataset("extra/meta_info/gender", data=[b"female"] * n_spk)
        f.create_dataset("extra/meta_info/age", data=np.full(n_spk, 30, np.uint16))
        f.create_dataset("extra/meta_info/body_height", data=np.full(n_spk, 170, np.uint16))
    return path


def random_spikes(rng: np.random.Generator, n: int, t_max: float = 0.9):
    """Sorted spike times (s, exactly representable in float16) and channels 0..699."""
    times = np.sort(np.asarray(rng.uniform(0, t_max, n), np.float16))
    return times, rng.integers(0, 700, n).astype(np.uint16)


@pytest.fixture
def shd_root(tmp_path: Path) -> Path:
    """shd_train.h5 (24 samples, 4 speakers, 20 classes) and shd_test.h5 (6 samples)."""
    rng = np.random.default_rng(1)
    keys = [f"digit-{i}".encode() for i in range(20)]
    for split, n, spk in (("train", 24, [0, 1, 2, 3]), ("test", 6, [4, 5])):
        spikes = [random_spikes(rng, int(rng.integers(5, 60))) for _ in range(n)]
        write_shd_h5(
            tmp_path / f"shd_{split}.h5",
            [s[0] for s in spikes],
            [s[1] for s in spikes],
            labels=np.arange(n) % 20,
            speakers=[spk[i % len(spk)] for i in range(n)],
            keys=keys,
        )
    return tmp_path


def write_cifar10(root: Path, n_per_batch: int = 4, seed: int = 0) -> Path:
    """cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta} as protocol-2 pickled dicts.

    The official files were written by Python 2, whose str keys load as str under
    ``encoding="latin1"``; str keys here reproduce that."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {
            "batch_label": name,
            "labels": [int(v) for v in rng.integers(0, 10, n_per_batch)],
            "data": rng.integers(0, 256, (n_per_batch, 3072)).astype(np.uint8),
            "filenames": [f"img_{k}.png" for k in range(n_per_batch)],
        }
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    meta = {
        "label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
        "num_cases_per_batch": n_per_batch,
        "num_vis": 3072,
    }
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return root


def write_cifar100(root: Path, n: int = 6, seed: int = 0) -> Path:
    """cifar-100-python/{train, test, meta} with fine_labels and coarse_labels (bytes keys, as
    Python 3 writers such as re-packagers produce; the reader accepts both)."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("train", "test"):
        batch = {
            b"filenames": [f"img_{k}.png".encode() for k in range(n)],
            b"batch_label": name.encode(),
            b"fine_labels": [int(v) for v in rng.integers(0, 100, n)],
            b"coarse_labels": [int(v) for v in rng.integers(0, 20, n)],
            b"data": rng.integers(0, 256, (n, 3072)).astype(np.uint8),
        }
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    meta = {
        b"fine_label_names": [f"fine{i}".encode() for i in range(100)],
        b"coarse_label_names": [f"coarse{i}".encode() for i in range(20)],
    }
    (folder / "meta").write_bytes(pickle.dumps(meta, protocol=2))
    return root
