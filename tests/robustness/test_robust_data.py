"""Bad dataset files and options through ``snnlab train``: exit 2, one line naming file, field, valid values."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from tests.data.conftest import random_recording, write_nmnist_bin, write_shd_h5


def _good_shd(path: Path, n: int = 8, speakers=None) -> Path:
    rng = np.random.default_rng(0)
    times = [np.sort(rng.uniform(0, 0.5, 6)).astype(np.float16) for _ in range(n)]
    units = [rng.integers(0, 700, 6).astype(np.uint16) for _ in range(n)]
    spk = speakers if speakers is not None else [i % 4 for i in range(n)]
    return write_shd_h5(path, times, units, np.arange(n) % 20, spk, [b"k%d" % i for i in range(20)])


def _replace(key, data=None, group=False):
    """Damage: dataset ``key`` replaced by ``data`` (or by a group)."""

    def damage(path: Path) -> None:
        with h5py.File(path, "a") as f:
            del f[key]
            if group:
                f.create_group(key)
            else:
                f.create_dataset(key, data=data)

    return damage


def _late_spike_1e6(path: Path) -> None:
    with h5py.File(path, "a") as f:
        del f["spikes/times"], f["spikes/units"]
        t = f.create_dataset("spikes/times", (8,), dtype=h5py.vlen_dtype(np.float64))
        u = f.create_dataset("spikes/units", (8,), dtype=h5py.vlen_dtype(np.uint16))
        for i in range(8):
            t[i] = np.array([0.1, 1e6 if i == 3 else 0.2])
            u[i] = np.array([1, 2], np.uint16)


def _empty(path: Path) -> None:
    path.unlink()
    with h5py.File(path, "w") as f:
        f.create_dataset("spikes/times", (0,), dtype=h5py.vlen_dtype(np.float16))
        f.create_dataset("spikes/units", (0,), dtype=h5py.vlen_dtype(np.uint16))
        f.create_dataset("labels", data=np.zeros(0, np.uint16))


def _text(path: Path) -> None:
    path.write_text("not an hdf5 file\n")


# damage to shd_train.h5 -> substrings of the one error line
SHD_CASES = {
    "label out of range": (_replace("labels", np.array([0, 1, 2, 20, 4, 5, 6, 7], np.uint16)), "label 20", "0..19"),
    "label negative": (_replace("labels", np.array([0, -1, 2, 3, 4, 5, 6, 7], np.int16)), "label -1", "0..19"),
    "labels 2-D": (_replace("labels", np.zeros((8, 2), np.uint16)), "labels", "(8, 2)", "1-D"),
    "labels scalar": (_replace("labels", np.uint16(3)), "labels", "shape ()", "1-D"),
    "labels strings": (_replace("labels", np.array([b"a"] * 8)), "labels", "integers"),
    "labels of the wrong length": (_replace("labels", np.zeros(5, np.uint16)), "spikes/times", "8 rows", "5 labels"),
    "labels float": (_replace("labels", np.zeros(8, np.float32)), "labels", "integers"),
    "labels missing": (lambda p: _delete(p, "labels"), "no 'labels'"),
    "speakers of the wrong length": (
        _replace("extra/speaker", np.zeros(3, np.uint16)),
        "extra/speaker",
        "3 entries",
        "one per sample",
    ),
    "speakers strings": (_replace("extra/speaker", np.array([b"x"] * 8)), "extra/speaker", "integers"),
    "times as strings": (_replace("spikes/times", np.array([b"0.1"] * 8)), "spikes/times", "float spike times"),
    "times a group": (_replace("spikes/times", group=True), "spikes/times", "not a dataset"),
    "times a scalar": (_replace("spikes/times", np.float32(0.1)), "spikes/times", "shape ()", "one row per sample"),
    "units float": (_replace("spikes/units", np.zeros((8, 6), np.float32)), "spikes/units", "integer channel"),
    "spike at 1e6 s": (_late_spike_1e6, "sample 3", "1e+06 s", "duration"),
    "empty file": (_empty, "'train' split", "holds no samples"),
    "not HDF5": (_text, "not an SHD/SSC file"),
}


def _delete(path: Path, key: str) -> None:
    with h5py.File(path, "a") as f:
        del f[key]


def _shd_recipe(root: Path, **data) -> Path:
    raw = {
        "data": {"name": "shd", "root": str(root), "batch_size": 4, "options": {"dt": 0.05}, **data},
        "model": {"name": "mlp_snn", "hidden": [8], "backend": "torch"},
        "train": {"epochs": 1},
        "run": {"name": "shd", "out_dir": str(root / "runs"), "progress": False},
    }
    path = root / "shd.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize("case", sorted(SHD_CASES))
def test_bad_shd_file(cli_error, tmp_path, case):
    damage, *expected = SHD_CASES[case]
    train = _good_shd(tmp_path / "shd_train.h5")
    _good_shd(tmp_path / "shd_test.h5")
    damage(train)
    line = cli_error(["train", _shd_recipe(tmp_path)], *expected)
    assert "shd_train.h5" in line or "'train' split" in line
    assert not (tmp_path / "runs" / "shd" / "checkpoints").exists()


@pytest.mark.parametrize("speakers", [None, [7] * 10], ids=["no extra/speaker", "one speaker"])
def test_shd_valid_split_without_speakers_falls_back(tmp_path, speakers, caplog):
    """A file that cannot be split by speaker gets a stated, seeded per-sample split; no split is empty."""
    from snnlab.data import create_dataset

    _good_shd(tmp_path / "shd_train.h5", n=10, speakers=[0] * 10 if speakers is None else speakers)
    if speakers is None:
        _delete(tmp_path / "shd_train.h5", "extra/speaker")
    train = create_dataset("shd", tmp_path, "train", holdout_valid=True)
    valid = create_dataset("shd", tmp_path, "valid")
    assert len(valid) == 1 and len(train) == 9
    assert not set(train.indices) & set(valid.indices)
    assert "cannot hold out whole speakers" in caplog.text


BAD_OPTIONS = {
    "shd dtt": ("shd", {"dtt": 3}, "shd", "unknown option", "dtt", "n_bins"),
    "nmnist n_bins": ("nmnist", {"n_bins": 3}, "nmnist", "unknown option", "n_bins", "n_time_bins"),
    "digits typo": ("digits", {"n_time_bin": 3}, "digits", "unknown option", "n_time_bins"),
}


@pytest.mark.parametrize("case", sorted(BAD_OPTIONS))
def test_unknown_dataset_option(cli_error, tmp_path, case):
    name, options, *expected = BAD_OPTIONS[case]
    raw = {
        "data": {"name": name, "root": str(tmp_path), "options": options},
        "model": {"name": "mlp_snn", "hidden": [8]},
        "run": {"out_dir": str(tmp_path / "runs")},
    }
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump(raw))
    cli_error(["train", recipe], *expected)


def test_worker_error_arrives_as_the_original_line(cli_error, tmp_path):
    """A corrupt N-MNIST file read inside a DataLoader worker: the reader's one line, not a worker traceback."""
    rng = np.random.default_rng(0)
    for split in ("Train", "Test"):
        for digit in range(2):
            for k in range(2):
                write_nmnist_bin(tmp_path / split / str(digit) / f"{k:05d}.bin", *random_recording(rng, 30))
    bad = tmp_path / "Train" / "1" / "00001.bin"
    bad.write_bytes(bad.read_bytes()[:-2])  # not a multiple of 5 bytes
    raw = {
        "data": {
            "name": "nmnist",
            "root": str(tmp_path),
            "batch_size": 4,
            "num_workers": 2,
            "options": {"n_time_bins": 2, "cache": False},
        },
        "model": {"name": "mlp_snn", "hidden": [4], "backend": "torch"},
        "train": {"epochs": 1},
        "run": {"name": "w", "out_dir": str(tmp_path / "runs"), "progress": False},
    }
    recipe = tmp_path / "w.yaml"
    recipe.write_text(yaml.safe_dump(raw))
    line = cli_error(["train", recipe], "00001.bin", "truncated N-MNIST file", "multiple of 5")
    assert "DataLoader worker" not in line and "Traceback" not in line


def test_labels_checked_before_training(cli_error, tmp_path):
    """A registered dataset whose labels exceed its classes fails before the first epoch, naming the sample."""
    import torch

    from snnlab.data import register_dataset
    from snnlab.data.registry import DATASETS, READERS

    class Tiny(torch.utils.data.Dataset):
        num_classes, input_shape, timesteps = 3, (4,), 2

        def __init__(self):
            self.labels = np.array([0, 1, 2, 7])

        def __len__(self):
            return 4

        def __getitem__(self, i):
            return torch.zeros(2, 4), int(self.labels[i])

    try:
        register_dataset("tiny_bad_labels", "labels past its classes", lambda root, split: Tiny())
        raw = {
            "data": {"name": "tiny_bad_labels", "batch_size": 2},
            "model": {"name": "mlp_snn", "hidden": [4], "backend": "torch"},
            "run": {"out_dir": str(tmp_path / "runs"), "progress": False},
        }
        recipe = tmp_path / "r.yaml"
        recipe.write_text(yaml.safe_dump(raw))
        cli_error(["train", recipe], "'train' split", "label 7", "sample 3", "0..2")
        assert not (tmp_path / "runs" / "r" / "checkpoints" / "last.pt").exists()
    finally:
        READERS._entries.pop("tiny_bad_labels", None)
        DATASETS.pop("tiny_bad_labels", None)
