"""The enwik8 SpikeGPT-46M recipe (official settings) runs one shrunk epoch on a file in enwik8's format."""

from __future__ import annotations

from pathlib import Path

from snnlab.train import Trainer
from snnlab.train.config import load_config
from snnlab.train.metrics import read_metrics_csv

ROOT = Path(__file__).resolve().parents[2]


def test_enwik8_recipe_smoke(tmp_path):
    (tmp_path / "enwik8").write_text(
        "<page><title>Anarchism</title><text>'''Anarchism''' is a [[political philosophy]] ü</text></page>\n" * 300,
        encoding="utf-8",
    )
    cfg = load_config(
        ROOT / "experiments" / "enwik8_spikegpt_46m.yaml",
        [
            f"data.root={tmp_path}",
            f"run.out_dir={tmp_path / 'runs'}",
            "run.progress=false",
            "train.epochs=1",
            "train.max_batches=2",
            "data.limit_valid=2",
            "data.limit_test=2",
            "data.options.ctx_len=16",
            "model.ctx_len=16",
            "model.n_layer=1",
            "model.dim=16",
            "data.train_options.stride=8",
        ],
    )
    opt = cfg.train.optimizers[0]
    assert (cfg.model["name"], opt.betas, opt.eps, cfg.train.grad_clip, cfg.data.batch_size) == (
        "spikegpt_46m",
        [0.9, 0.99],
        4e-9,
        1.0,
        12,
    )
    summary = Trainer(cfg).fit()
    row = read_metrics_csv(Path(summary["run_dir"]) / "metrics.csv")[0]
    assert row["valid_bpc"] > 0 and summary["test"]["test_bpc"] > 0
