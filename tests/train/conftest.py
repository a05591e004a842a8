"""Fixtures for training tests: tiny recipes on the embedded digits that train in seconds."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

TINY: dict[str, Any] = {
    "data": {
        "name": "digits",
        "batch_size": 16,
        "eval_batch_size": 64,
        "limit_train": 64,
        "limit_test": 48,
        "options": {"n_time_bins": 8},
    },
    "model": {"name": "mlp_snn", "hidden": [24], "tau": 2.0},
    "train": {
        "epochs": 2,
        "seed": 0,
        "deterministic": True,
        "optimizers": [{"name": "adam", "lr": 5.0e-3, "scheduler": {"name": "cosine"}}],
    },
    "run": {"name": "tiny", "progress": False},
}


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict update returning a new dict."""
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def write_recipe(folder: Path, extra: dict[str, Any] | None = None, name: str = "tiny.yaml") -> Path:
    """Write the tiny recipe (updated with ``extra``) with ``run.out_dir`` inside ``folder``."""
    recipe = merge(TINY, {"run": {"out_dir": str(folder / "runs")}})
    recipe = merge(recipe, extra or {})
    path = folder / name
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


@pytest.fixture
def tiny_recipe(tmp_path: Path) -> Path:
    """Path of the tiny digits recipe, writing its run under ``tmp_path/runs``."""
    return write_recipe(tmp_path)


# --- minimal writers of the published file formats (for recipe smoke runs) -------------------


def write_nmnist_file(path: Path, rng: np.random.Generator, n_events: int, t_max_us: int = 300_000) -> None:
    """One N-MNIST ``.bin`` recording: 40-bit events (x 8 | y 8 | polarity 1 + time 23 bits, big-endian)."""
    t = np.sort(rng.integers(0, t_max_us, n_events))
    x, y, p = rng.integers(0, 34, n_events), rng.integers(0, 34, n_events), rng.integers(0, 2, n_events)
    raw = np.zeros((n_events, 5), dtype=np.uint8)
    raw[:, 0], raw[:, 1] = x, y
    raw[:, 2] = (p << 7) | ((t >> 16) & 0x7F)
    raw[:, 3], raw[:, 4] = (t >> 8) & 0xFF, t & 0xFF
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw.tobytes())


@pytest.fixture
def nmnist_files(tmp_path: Path) -> Path:
    """``Train/<d>/*.bin`` (3 per digit) and ``Test/<d>/*.bin`` (1 per digit) for digits 0-9."""
    rng = np.random.default_rng(0)
    root = tmp_path / "nmnist"
    for split, per_digit in (("Train", 3), ("Test", 1)):
        for digit in range(10):
            for k in range(per_digit):
                write_nmnist_file(root / split / str(digit) / f"{k:05d}.bin", rng, 200)
    return root


@pytest.fixture
def shd_files(tmp_path: Path) -> Path:
    """``shd_train.h5`` (40 samples) and ``shd_test.h5`` (20) in the published HDF5 layout."""
    import h5py

    rng = np.random.default_rng(1)
    root = tmp_path / "shd"
    root.mkdir()
    for split, n, speakers in (("train", 40, [0, 1, 2, 3]), ("test", 20, [4, 5])):
        with h5py.File(root / f"shd_{split}.h5", "w") as f:
            times = f.create_dataset("spikes/times", (n,), dtype=h5py.vlen_dtype(np.float16))
            units = f.create_dataset("spikes/units", (n,), dtype=h5py.vlen_dtype(np.uint16))
            for i in range(n):
                k = int(rng.integers(20, 120))
                times[i] = np.sort(rng.uniform(0, 0.5, k)).astype(np.float16)
                units[i] = rng.integers(0, 700, k).astype(np.uint16)
            f.create_dataset("labels", data=(np.arange(n) % 20).astype(np.uint16))
            f.create_dataset("extra/speaker", data=np.array([speakers[i % len(speakers)] for i in range(n)], np.uint16))
            f.create_dataset("extra/keys", data=[f"class-{c}".encode() for c in range(20)])
            f.create_dataset("extra/meta_info/gender", data=[b"male"] * 6)
            f.create_dataset("extra/meta_info/age", data=np.full(6, 40, np.uint16))
            f.create_dataset("extra/meta_info/body_height", data=np.full(6, 180, np.uint16))
    return root


@pytest.fixture
def cifar10_files(tmp_path: Path) -> Path:
    """``cifar-10-batches-py/`` with 5 training batches of 4 images and a test batch of 4."""
    import pickle

    rng = np.random.default_rng(2)
    root = tmp_path / "cifar10"
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {
            "batch_label": name,
            "labels": rng.integers(0, 10, 4).tolist(),
            "data": rng.integers(0, 256, (4, 3072)).astype(np.uint8),
            "filenames": [f"{k}.png" for k in range(4)],
        }
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    meta = {"label_names": [f"class{c}" for c in range(10)], "num_cases_per_batch": 4, "num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return root
