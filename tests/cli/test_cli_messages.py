"""What a new user reads: counts in the right number, the start-of-run line, whole-sample progress."""

from __future__ import annotations

import pytest
import torch
import yaml

from snnlab.cli import main
from snnlab.fmt import plural


@pytest.mark.parametrize(
    "n,word,text",
    [(1, "epoch", "1 epoch"), (2, "epoch", "2 epochs"), (1, "core", "1 core"), (1293, "sample", "1,293 samples")],
)
def test_plural(n, word, text):
    assert plural(n, word) == text


def test_train_says_data_sizes_parameters_backend_and_epochs(tmp_path, capsys):
    raw = {
        "data": {
            "name": "digits",
            "batch_size": 16,
            "limit_train": 32,
            "limit_test": 16,
            "options": {"n_time_bins": 4},
        },
        "model": {"name": "mlp_snn", "hidden": [8], "backend": "torch"},
        "train": {"epochs": 1},
        "run": {"name": "msg", "out_dir": str(tmp_path / "runs"), "progress": False},
    }
    recipe = tmp_path / "msg.yaml"
    recipe.write_text(yaml.safe_dump(raw))
    assert main(["train", str(recipe)]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("data: digits"))
    params = 512 * 8 + 8 + 8 * 10 + 10  # Linear 512 -> 8, Linear 8 -> 10, with biases
    assert "data: digits train 32 / test 16 samples;" in line, line
    assert f"model mlp_snn: {params:,} parameters; backend torch; device cpu; 1 epoch" in line, line
    assert "1 epochs" not in out


class _Bar:
    """Stands in for tqdm: records how the bar is set up and what it counts."""

    made: list[_Bar] = []

    def __init__(self, **kwargs):
        self.kwargs, self.count = kwargs, 0
        _Bar.made.append(self)

    def update(self, n):
        self.count += n

    def set_postfix(self, **_):
        pass

    def close(self):
        pass


def _time_major(items):
    return torch.stack([x for x, _ in items], 1), torch.stack([y for _, y in items])  # (T, B, F), (B,)


def test_progress_bar_counts_whole_samples(monkeypatch):
    """No "8.00/1.30k": the bar counts samples as integers, its total is every sample of the epoch."""
    from snnlab.models import create_model
    from snnlab.train import loop
    from snnlab.train.config import OptimizerConfig
    from snnlab.train.distributed import DistContext
    from snnlab.train.losses import OutputLoss
    from snnlab.train.optim import OptimizerSet

    monkeypatch.setattr(loop, "tqdm", _Bar)
    data = torch.utils.data.TensorDataset(torch.rand(10, 3, 4), torch.zeros(10, dtype=torch.long))  # (T=3, F=4) each
    loader = torch.utils.data.DataLoader(data, batch_size=4, collate_fn=_time_major)
    model = create_model("mlp_snn", in_features=4, hidden=[4], num_classes=2, backend="torch")
    opt = OptimizerSet(model, [OptimizerConfig()], epochs=1, steps_per_epoch=3)
    loop.train_epoch(model, loader, OutputLoss(), opt, loop.StepConfig(torch.device("cpu")), DistContext())
    bar = _Bar.made[-1]
    assert bar.kwargs["unit"] == "sample" and bar.kwargs["unit_scale"] is False
    assert bar.kwargs["total"] == 3 * 4 and bar.count == 10  # 3 batches of up to 4; 10 samples seen
