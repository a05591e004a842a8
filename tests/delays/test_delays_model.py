"""The delay_snn model family: paper sizes, hooks, recipes, and a CPU smoke run of the trainer."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import snnlab.models.delay_snn  # noqa: F401  (registers delay_snn)
from snnlab.errors import ConfigError, ShapeError
from snnlab.models import create_model
from snnlab.train.config import load_config

ROOT = Path(__file__).resolve().parents[2]


def test_shd_model_has_paper_parameter_count():
    model = create_model("delay_snn")
    synapses = 140 * 256 + 256 * 256 + 256 * 20
    assert model.paper_parameter_count() == 2 * synapses + 2 * 2 * 256 == 214_016  # "0.2M"
    assert round(model.paper_parameter_count() / 1e6, 1) == 0.2


def test_ssc_model_has_paper_parameter_count():
    cfg = load_config(ROOT / "experiments" / "ssc_delays.yaml")
    kw = {k: v for k, v in cfg.model.items() if k != "name"}
    count = create_model("delay_snn", **kw).paper_parameter_count()
    assert round(count / 1e6, 1) == 2.5  # "3L-2KC 2.50M"


def test_forward_backward_every_parameter_and_length():
    torch.manual_seed(0)
    model = create_model("delay_snn", in_features=10, num_classes=3, hidden=[8], max_delay=5, dropout=0.2)
    x = (torch.rand(7, 4, 10) < 0.5).float()
    out = model(x)
    assert out.shape == (7 + 2 * 2, 4, 3) and model.output_length(7) == 11
    out.sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    model.eval()
    assert model(x).shape == (11, 4, 3)


def test_model_hooks_reach_every_delay_layer():
    model = create_model("delay_snn", in_features=4, num_classes=2, hidden=[3, 3], max_delay=9)
    layers = model.delay_layers()
    assert len(layers) == 3
    with torch.no_grad():
        for layer in layers:
            layer.positions.fill_(50.0)
    model.after_optimizer_step()
    model.on_epoch_end(0, 8)
    for layer in layers:
        assert float(layer.positions.detach().max()) == 4.0
        assert float(layer.sigma) == pytest.approx(4.0 * (0.23 / 4.0) ** 0.5)


def test_bad_model_options():
    with pytest.raises(ConfigError, match="max_delay must be an integer >= 1"):
        create_model("delay_snn", max_delay=0)
    with pytest.raises(ShapeError, match="expected 140 features"):
        create_model("delay_snn")(torch.zeros(3, 2, 7))


def test_shd_recipe_is_the_paper():
    cfg = load_config(ROOT / "experiments" / "shd_delays.yaml")
    m = cfg.model
    assert (m["hidden"], m["max_delay"], m["tau"], m["dropout"], m["surrogate_alpha"]) == (
        [256, 256],
        25,
        1.005,
        0.4,
        5.0,
    )
    assert cfg.train.epochs == 150 and cfg.data.batch_size == 256 and cfg.train.loss == "sum_softmax"
    pos, w = cfg.train.optimizers
    assert (pos.params, pos.lr, pos.weight_decay, pos.scheduler.name) == ("*positions*", 0.1, 0.0, "cosine")
    assert (w.lr, w.weight_decay, w.scheduler.name, w.scheduler.max_lr) == (1e-3, 1e-5, "onecycle", 5e-3)


def test_smoke_training_two_epochs(tiny_shd_root, tmp_path):
    from snnlab.train.trainer import Trainer

    sets = [
        f"data.root={tiny_shd_root}",
        "data.batch_size=16",
        "train.epochs=2",
        "model.hidden=[16]",
        f"run.out_dir={tmp_path}",
        "run.progress=false",
        "data.options.cache_dir=" + str(tmp_path / "cache"),
    ]
    cfg = load_config(ROOT / "experiments" / "shd_delays.yaml", sets)
    trainer = Trainer(cfg, overwrite=True)
    sigma0 = float(trainer.model.delay_layers()[0].sigma)
    summary = trainer.fit()
    assert summary["epochs"] == 2
    rows = trainer.history
    assert all(torch.isfinite(torch.tensor(r["train_loss"])) for r in rows)
    assert float(trainer.model.delay_layers()[0].sigma) == pytest.approx(sigma0)  # epochs // 4 == 0: no decay
    positions = trainer.model.delay_layers()[0].positions.detach()
    assert float(positions.abs().max()) <= 12.0
