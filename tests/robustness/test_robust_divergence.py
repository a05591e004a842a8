"""A non-finite loss stops training at that batch, in one line, before any checkpoint or eval.json.

(``lr=inf`` or NaN is refused in the recipe already, tests/robustness/test_robust_config.py; this is
the guard for what gets past the recipe: data holding NaN, a learning rate that diverges.)
"""

from __future__ import annotations

import pytest
import torch
import yaml


class _Poisoned(torch.utils.data.Dataset):
    """Eight (T=3, F=4) samples, each holding a NaN."""

    num_classes, input_shape, timesteps = 2, (4,), 3

    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int):
        x = torch.ones(3, 4)
        x[1, 2] = float("nan")
        return x, i % 2


@pytest.fixture
def poisoned():
    from snnlab.data import register_dataset
    from snnlab.data.registry import DATASETS, READERS

    register_dataset("tiny_nan", "a NaN in every sample", lambda root, split: _Poisoned())
    yield
    READERS._entries.pop("tiny_nan", None)
    DATASETS.pop("tiny_nan", None)


def test_nan_loss_stops_training_without_checkpoints(cli_error, tmp_path, poisoned):
    raw = {
        "data": {"name": "tiny_nan", "batch_size": 4},
        "model": {
            "name": "mlp_snn",
            "hidden": [],
            "backend": "torch",
        },  # the readout sees the input: NaN reaches the loss
        "train": {"epochs": 2},
        "run": {"name": "nan", "out_dir": str(tmp_path / "runs"), "progress": False},
    }
    recipe = tmp_path / "nan.yaml"
    recipe.write_text(yaml.safe_dump(raw))
    cli_error(["train", recipe], "training diverged", "loss is nan", "batch 1 of", "lr", "grad_clip")
    run = tmp_path / "runs" / "nan"
    assert not (run / "checkpoints" / "last.pt").exists() and not (run / "eval.json").exists()
