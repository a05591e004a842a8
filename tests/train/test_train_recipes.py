"""CPU smoke runs of the shipped recipes on tiny files in the published formats: one epoch of
each recipe's model, data pipeline, loss and optimiser settings (widths shrunk where costly)."""

from __future__ import annotations

from pathlib import Path

import pytest

from snnlab.train import Trainer, load_run
from snnlab.train.config import load_config
from snnlab.train.metrics import read_metrics_csv

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ["train.epochs=1", "data.num_workers=0", "run.progress=false", "data.eval_batch_size=16"]


def _smoke(recipe: str, data_root: Path, tmp_path: Path, extra: list[str]) -> dict:
    cfg = load_config(
        ROOT / "experiments" / recipe, [f"data.root={data_root}", f"run.out_dir={tmp_path / 'runs'}", *SMOKE, *extra]
    )
    summary = Trainer(cfg).fit()
    run_dir = Path(summary["run_dir"])
    rows = read_metrics_csv(run_dir / "metrics.csv")
    split = "valid" if cfg.data.valid_split else "test"  # the split evaluated every epoch
    assert len(rows) == 1 and 0.0 <= rows[0][f"{split}_acc"] <= 1.0
    assert 0.0 <= summary["test"]["accuracy"] <= 1.0 and summary["selection_split"] == (cfg.data.valid_split or "test")
    assert any(k.startswith("rate/") for k in rows[0])
    loaded = load_run(run_dir)
    assert loaded.epoch == 1
    return {"cfg": cfg, "rows": rows, "run": loaded}


def test_shd_lif_recipe(shd_files: Path, tmp_path: Path) -> None:
    out = _smoke("shd_lif.yaml", shd_files, tmp_path, ["data.batch_size=8"])
    assert out["cfg"].model["in_features"] == 140 and out["cfg"].model["num_classes"] == 20
    assert out["cfg"].run.monitor == "valid_acc" and "valid_acc" in out["rows"][0]  # speakers held out
    assert out["cfg"].train.optimizers[0].scheduler.name == "onecycle"


def test_nmnist_conv_recipe(nmnist_files: Path, tmp_path: Path) -> None:
    out = _smoke("nmnist_conv.yaml", nmnist_files, tmp_path, ["data.batch_size=10"])
    assert out["run"].model.fc_out.module.in_features == 64 * 5 * 5  # the classic 12c5-MP2-64c5-MP2


def test_cifar10_resnet_recipe(cifar10_files: Path, tmp_path: Path) -> None:
    out = _smoke(
        "cifar10_resnet.yaml", cifar10_files, tmp_path, ["data.batch_size=10", "model.widths=[4, 8, 8]", "model.T=2"]
    )
    assert [len(s) for s in out["run"].model.stages] == [3, 3, 2]  # ResNet-19 layout


@pytest.mark.parametrize("recipe", ["shd_lif.yaml", "nmnist_conv.yaml", "cifar10_resnet.yaml"])
def test_recipes_fail_clearly_without_data(recipe: str, tmp_path: Path) -> None:
    from snnlab.errors import DataError

    cfg = load_config(ROOT / "experiments" / recipe, [f"data.root={tmp_path / 'missing'}", *SMOKE])
    with pytest.raises(DataError, match="missing"):
        Trainer(cfg)
