"""Batch-first input given to a time-major model: one line naming the (T, B, ...) layout.

Own data (a registered dataset with its own collate, an array for ``snnlab simulate``) often comes
``(B, T, ...)``; the trainer, ``snnlab eval`` and ``snnlab simulate`` check the first batch
against the model's declared ``input_layout`` (the labels give the batch size).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from snnlab.errors import ShapeError
from snnlab.models.layout import STATIC, STATIC_OR_TIME_MAJOR, TIME_MAJOR, check_layout

T, B, F = 3, 4, 5  # steps, samples, features: all different, so the layout is unambiguous


class _Tiny(torch.utils.data.Dataset):
    """Eight (T, F) samples of 2 classes; ``batch_first`` makes its collate stack (B, T, F)."""

    num_classes, input_shape, timesteps = 2, (F,), T

    def __init__(self, batch_first: bool) -> None:
        self.batch_first = batch_first

    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int):
        return torch.full((T, F), float(i % 3)), i % 2

    def collate_fn(self, items):
        x = torch.stack([item[0] for item in items])  # (B, T, F)
        y = torch.tensor([item[1] for item in items])
        return (x if self.batch_first else x.transpose(0, 1)), y


@pytest.fixture
def tiny_dataset():
    """``register(batch_first)``: (re-)register the dataset ``tiny_layout``; removed afterwards."""
    from snnlab.data import register_dataset
    from snnlab.data.registry import DATASETS, READERS

    def register(batch_first: bool) -> None:
        READERS._entries.pop("tiny_layout", None)
        register_dataset("tiny_layout", "eight samples", lambda root, split: _Tiny(batch_first))

    yield register
    READERS._entries.pop("tiny_layout", None)
    DATASETS.pop("tiny_layout", None)


def _recipe(tmp_path: Path) -> Path:
    raw = {
        "data": {"name": "tiny_layout", "batch_size": B},
        "model": {"name": "mlp_snn", "hidden": [4], "backend": "torch"},
        "train": {"epochs": 1},
        "run": {"name": "layout", "out_dir": str(tmp_path / "runs"), "progress": False},
    }
    path = tmp_path / "layout.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_train_refuses_batch_first_batches(cli_error, tmp_path, tiny_dataset):
    tiny_dataset(batch_first=True)
    cli_error(["train", _recipe(tmp_path)], "SpikingMLP", "time-major (T, B, ...)", f"({B}, {T}, {F})", "batch-first")
    assert not (tmp_path / "runs" / "layout" / "checkpoints" / "last.pt").exists()


def test_eval_refuses_batch_first_batches(cli_error, tmp_path, tiny_dataset, capsys):
    from snnlab.cli import main

    tiny_dataset(batch_first=False)
    assert main(["train", str(_recipe(tmp_path))]) == 0  # the time-major run trains
    tiny_dataset(batch_first=True)
    cli_error(["eval", tmp_path / "runs" / "layout"], "time-major (T, B, ...)", "batch-first", "transpose")


@pytest.fixture
def run_copy(evaluated_run, tmp_path) -> Path:
    dst = tmp_path / "run"
    shutil.copytree(evaluated_run, dst)
    return dst


def test_simulate_refuses_batch_first_input_with_labels(cli_error, run_copy, tmp_path):
    path = tmp_path / "bf.npz"
    np.savez(path, x=np.zeros((6, 16, 512)), labels=np.zeros(6, dtype=np.int64))  # (B, T, N) of the digits graph
    cli_error(["simulate", run_copy, "--input", path], "input file 'x'", "(6, 16, 512)", "batch-first")


def test_simulate_accepts_time_major_input_with_labels(run_copy, tmp_path, capsys):
    from snnlab.cli import main

    path = tmp_path / "tm.npz"
    np.savez(path, x=np.zeros((16, 6, 512)), labels=np.zeros(6, dtype=np.int64))
    assert main(["simulate", str(run_copy), "--input", str(path)]) == 0
    assert "6 samples" in capsys.readouterr().out


# shape, batch, layout, static_rank -> substring of the error (None: accepted)
CASES = {
    "time-major": ((T, B, F), B, TIME_MAJOR, None, None),
    "batch-first": ((B, T, F), B, TIME_MAJOR, None, "batch-first"),
    "no batch dim": ((T, 7, F), B, TIME_MAJOR, None, "for a batch of 4 samples"),
    "static image": ((B, 3, 8, 8), B, STATIC_OR_TIME_MAJOR, 4, None),
    "time-major image": ((T, B, 3, 8, 8), B, STATIC_OR_TIME_MAJOR, 4, None),
    "batch-first images": ((B, T, 3, 8, 8), B, STATIC_OR_TIME_MAJOR, 4, "batch-first"),
    "static image, wrong batch": ((3, B, 8, 8), B, STATIC_OR_TIME_MAJOR, 4, "static batch (B, ...) of 4 dims"),
    "diffusion images": ((B, 3, 8, 8), B, STATIC, None, None),
    "diffusion, batch elsewhere": ((3, B, 8, 8), B, STATIC, None, "static batch"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_check_layout(case):
    shape, batch, layout, rank, error = CASES[case]
    if error is None:
        check_layout(shape, batch, "model M", layout, rank)
        return
    with pytest.raises(ShapeError, match=None) as info:
        check_layout(shape, batch, "model M", layout, rank)
    message = str(info.value)
    assert error in message and "\n" not in message and "model M" in message
