"""Recipes -> typed config: overrides, type checks, unknown keys, saved config round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from snnlab.errors import ConfigError
from snnlab.train.config import Config, config_from_dict, load_config

ROOT = Path(__file__).resolve().parents[2]


def test_load_applies_typed_overrides(tiny_recipe: Path) -> None:
    cfg = load_config(
        tiny_recipe,
        [
            "train.epochs=3",
            "model.tau=4",
            "train.optimizers.0.lr=1e-4",
            "data.options.n_time_bins=12",
            "train.grad_clip=null",
            "model.hidden=[8, 8]",
        ],
    )
    assert cfg.train.epochs == 3
    assert cfg.model["tau"] == 4.0 and isinstance(cfg.model["tau"], float)
    assert cfg.train.optimizers[0].lr == pytest.approx(1e-4)  # YAML 1.1 reads 1e-4 as a string: coerced
    assert cfg.data.options == {"n_time_bins": 12}
    assert cfg.model["hidden"] == [8, 8]
    assert cfg.run.name == "tiny"


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.epochz=3", r"unknown key\(s\) \['epochz'\]; valid: epochs"),
        ("train.epochs=three", "train.epochs: expected int"),
        ("train.epochs=0", "train.epochs: 0 is not valid; valid: an integer >= 1"),
        ("train.deterministic=maybe", "expected bool"),
        ("model.tau=fast", "model.tau: expected float"),
        ("model.colour=red", r"unknown key\(s\) \['colour'\].*valid: name, .*tau"),
        ("train.loss=hinge", "valid: mean, sum_softmax, last"),
        ("train.optimizers.3.lr=1", "index below 1"),
        ("train.optimizers.0.scheduler.name=warm", "valid: none, cosine, onecycle"),
        ("bogus.key=1", r"unknown section\(s\) \['bogus'\]"),
        ("epochs", "expected key=value"),
    ],
)
def test_bad_overrides_name_field_and_valid_values(tiny_recipe: Path, override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(tiny_recipe, [override])


def test_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("train: {epochs: [1, 2]}\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: train\.epochs: expected int"):
        load_config(path)
    path.write_text("train: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)


def test_saved_config_round_trips(tiny_recipe: Path, tmp_path: Path) -> None:
    cfg = load_config(tiny_recipe, ["train.optimizers.0.scheduler.interval=batch"])
    cfg.save(tmp_path / "config.yaml")
    again = config_from_dict(yaml.safe_load((tmp_path / "config.yaml").read_text()))
    assert again == cfg


def test_two_optimiser_groups_parse() -> None:
    raw = {
        "model": {"name": "mlp_snn"},
        "train": {
            "optimizers": [
                {
                    "name": "adam",
                    "params": "*",
                    "lr": 1e-3,
                    "weight_decay": 1e-5,
                    "no_decay": "*.bias",
                    "scheduler": {"name": "onecycle", "max_lr": 5e-3},
                },
                {
                    "name": "adam",
                    "params": "*.positions",
                    "lr": 0.1,
                    "scheduler": {"name": "cosine", "interval": "batch"},
                },
            ]
        },
    }
    cfg = config_from_dict(raw)
    assert [o.params for o in cfg.train.optimizers] == ["*", "*.positions"]
    assert cfg.train.optimizers[1].scheduler.interval == "batch"
    assert isinstance(cfg, Config)


@pytest.mark.parametrize("recipe", ["demo_digits.yaml", "shd_lif.yaml", "nmnist_conv.yaml", "cifar10_resnet.yaml"])
def test_shipped_recipes_validate(recipe: str) -> None:
    cfg = load_config(ROOT / "experiments" / recipe)
    assert cfg.train.epochs >= 1
