"""Bad recipes and ``--set`` overrides: every value is checked before torch sees it (exit 2, one line)."""

from __future__ import annotations

import pytest

# --set override -> substrings the one error line must hold (field and what is valid)
BAD_OVERRIDES = {
    "lr nan": ("train.optimizers.0.lr=.nan", "train.optimizers.0.lr", "finite number in (0, 1000]"),
    "lr inf": ("train.optimizers.0.lr=.inf", "train.optimizers.0.lr", "(0, 1000]"),
    "lr huge": ("train.optimizers.0.lr=1e38", "train.optimizers.0.lr", "(0, 1000]"),
    "lr negative": ("train.optimizers.0.lr=-1e-3", "train.optimizers.0.lr", "(0, 1000]"),
    "betas outside [0,1)": ("train.optimizers.0.betas=[2,0.9]", "betas", "[0, 1)"),
    "betas one number": ("train.optimizers.0.betas=[0.9]", "betas", "two numbers"),
    "eps < 0": ("train.optimizers.0.eps=-1", "train.optimizers.0.eps", ">= 0"),
    "weight_decay < 0": ("train.optimizers.0.weight_decay=-1", "weight_decay", ">= 0"),
    "momentum < 0": ("train.optimizers.0.momentum=-0.5", "momentum", ">= 0"),
    "unknown optimiser": ("train.optimizers.0.name=lbfgs", "train.optimizers.0.name", "adam"),
    "unknown surrogate": ("model.surrogate=foo", "model.surrogate", "atan"),
    "surrogate alpha 0": ("model.surrogate_alpha=0", "model.surrogate_alpha", "> 0"),
    "hidden not ints (text)": ("model.hidden=[a]", "model.hidden", "integers >= 1"),
    "hidden not ints (float)": ("model.hidden=[1.5]", "model.hidden", "integers >= 1"),
    "hidden zero": ("model.hidden=[0]", "model.hidden", "integers >= 1"),
    "tau nan": ("model.tau=.nan", "model.tau", "finite"),
    "fuse_bn_neuron not a bool": ("model.fuse_bn_neuron=3", "model.fuse_bn_neuron", "expected bool"),
    "dt zero": ("model.dt=0", "model.dt", "> 0"),
    "dt negative": ("model.dt=-1", "model.dt", "> 0"),
    "num_workers < 0": ("data.num_workers=-1", "data.num_workers", ">= 0"),
    "batch_size 0": ("data.batch_size=0", "data.batch_size", ">= 1"),
    "limit_train 0": ("data.limit_train=0", "data.limit_train", ">= 1"),
    "seed past 2^63": ("train.seed=99999999999999999999", "train.seed", "2**63"),
    "seed negative": ("train.seed=-1", "train.seed", "2**63"),
    "epochs 0": ("train.epochs=0", "train.epochs", ">= 1"),
    "epochs text": ("train.epochs=many", "train.epochs", "expected int"),
    "max_batches 0": ("train.max_batches=0", "train.max_batches", ">= 1"),
    "max_batches -1": ("train.max_batches=-1", "train.max_batches", ">= 1"),
    "grad_clip < 0": ("train.grad_clip=-1", "train.grad_clip", "> 0"),
    "label_smoothing 1": ("train.label_smoothing=1", "label_smoothing", "[0, 1)"),
    "step_size 0": ("train.optimizers.0.scheduler.step_size=0", "step_size", ">= 1"),
    "pct_start > 1": ("train.optimizers.0.scheduler.pct_start=2", "pct_start", "(0, 1)"),
    "warmup < 0": ("train.optimizers.0.scheduler.warmup=-1", "warmup", ">= 0"),
    "gamma 0": ("train.optimizers.0.scheduler.gamma=0", "gamma", "> 0"),
    "milestones decreasing": ("train.optimizers.0.scheduler.milestones=[5,2]", "milestones", "increasing"),
    "unknown scheduler": ("train.optimizers.0.scheduler.name=poly", "scheduler.name", "cosine"),
    "unknown device": ("train.device=tpu", "train.device", "cpu"),
    "descend into a number": ("train.epochs.x=3", "train.epochs", "not a section"),
    "descend deeper into a number": ("train.epochs.x.y=3", "train.epochs", "not a section"),
    "unknown key": ("train.epoch=3", "train", "unknown key", "epochs"),
    "unknown section": ("trian.epochs=3", "unknown section", "train"),
    "no equals sign": ("train.epochs", "key=value"),
    "optimiser index past the list": ("train.optimizers.5.lr=1", "index below 1"),
    "run.name absolute": ("run.name=/abs/run", "run.name", "inside run.out_dir"),
    "run.name escapes with ..": ("run.name=../x", "run.name", "inside run.out_dir"),
    "run.name empty": ("run.name=' '", "run.name", "inside run.out_dir"),
    "unknown monitor": ("run.monitor=loss", "run.monitor", "valid_acc"),
}


@pytest.mark.parametrize("case", sorted(BAD_OVERRIDES))
def test_bad_override(cli_error, tiny_recipe, case):
    override, *expected = BAD_OVERRIDES[case]
    recipe = tiny_recipe()
    cli_error(["train", recipe, "--set", override], *expected)
    assert not (recipe.parent / "runs" / "bad" / "checkpoints").exists()  # nothing ran


BAD_FILES = {
    "binary bytes": (b"\x00\x81\xff\xfe\x00binary", "not a text file"),
    "invalid YAML": (b"data: [unclosed\n", "not valid YAML"),
    "a list at the top": (b"- 1\n- 2\n", "mapping"),
    "section not a mapping": (b"train: 3\n", "train", "mapping"),
    "model without name": (b"model: {hidden: [8]}\n", "model", "name"),
    "unknown model": (b"model: {name: transformer9}\n", "model.name", "mlp_snn"),
    "unknown model key": (b"model: {name: mlp_snn, hiden: [8]}\n", "hiden", "hidden"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_recipe_file(cli_error, tmp_path, case):
    payload, *expected = BAD_FILES[case]
    path = tmp_path / "recipe.yaml"
    path.write_bytes(payload)
    cli_error(["train", path], str(path), *expected)


def test_recipe_missing(cli_error, tmp_path):
    cli_error(["train", tmp_path / "nope.yaml"], "nope.yaml", "not found")


def test_recipe_is_a_folder(cli_error, tmp_path):
    cli_error(["train", tmp_path], str(tmp_path), "is a folder", "YAML recipe file")
