"""Bad input to the core registries and the CLI conventions: one clear error naming what is valid."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import torch
import yaml

from snnlab.errors import BackendError, ConfigError, DataError, ShapeError

CASES = {
    # name: (module, function, arguments (a tuple, or a dict of keywords), exception, text the message must hold)
    "unknown neuron kind": (
        "snnlab.functional",
        "initial_state",
        ("nope", None, None),
        ValueError,
        "valid: alif, cuba_lif, if, li, lif",
    ),
    "unknown surrogate": ("snnlab.functional", "get_surrogate", ("nope",), ValueError, "valid: atan"),
    "unknown model": ("snnlab.models", "create_model", ("nope",), ConfigError, "valid models: "),
    "unknown dataset": ("snnlab.data", "create_dataset", ("nope",), DataError, "valid names: digits"),
    "unknown backend for a module": ("snnlab.nn", "LIF", {"backend": "gpu"}, ValueError, "auto|torch|numba|cuda"),
    "unknown backend for batch norm": (
        "snnlab.nn",
        "BatchNorm1d",
        {"num_features": 4, "backend": "gpu"},
        ValueError,
        "auto|torch|numba|cuda",
    ),
    "unknown backend for a kernel": (
        "snnlab.kernels",
        "availability",
        ("gpu",),
        BackendError,
        "valid: auto, torch, numba, cuda",
    ),
    "mlp_snn fuse_bn_neuron not a bool": (
        "snnlab.models",
        "create_model",
        {"name": "mlp_snn", "fuse_bn_neuron": "yes"},
        ConfigError,
        "fuse_bn_neuron must be true or false",
    ),
    "batch_norm_neuron rows not (T, M, C)": (
        "snnlab.nn",
        "batch_norm_neuron",
        (torch.zeros(4, 3), torch.nn.BatchNorm1d(3), torch.nn.Identity()),
        ShapeError,
        "expected x (T, M, 3)",
    ),
    "batch_norm.neuron unknown kind": (
        "snnlab.kernels",
        "dispatch",
        ("batch_norm.neuron", "torch", torch.zeros(2, 2, 3), (None,) * 4 + (0.1, 1e-5), "alif", None, None),
        ValueError,
        "kind must be one of ('if', 'lif')",
    ),
    "op without a kernel": (
        "snnlab.kernels",
        "dispatch",
        ("neuron.nope", "torch"),
        BackendError,
        "no kernel for 'neuron.nope'",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_names_raise_one_line_naming_the_valid_ones(case):
    module, name, args, exc, text = CASES[case]
    fn = getattr(importlib.import_module(module), name)
    with pytest.raises(exc) as info:
        fn(**args) if isinstance(args, dict) else fn(*args)
    assert text in str(info.value) and "\n" not in str(info.value)


def test_registry_refuses_double_registration_and_bad_lazy_targets():
    from snnlab.registry import Registry

    reg = Registry("widget", ConfigError)
    reg.register("a", object())
    with pytest.raises(ConfigError, match="widget 'a' is registered twice"):
        reg.register("a", object())
    with pytest.raises(ValueError, match="'module:attribute'"):
        reg.register_lazy("b", "no_colon_here")


def test_train_out_and_resume_naming_two_folders(tmp_path: Path, capsys: pytest.CaptureFixture):
    from snnlab.cli import main

    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({"data": {"name": "digits"}, "model": {"name": "mlp_snn"}}))
    run = tmp_path / "runs" / "r"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(recipe.read_text())
    assert main(["train", "--resume", str(run), "--out", str(tmp_path / "other")]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "--resume" in err and len(err.strip().splitlines()) == 1
