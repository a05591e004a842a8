"""``snnlab export``: run folders and .nir files to NIR graphs and chip descriptors."""

from __future__ import annotations

import json

import pytest
import torch

from snnlab.cli import main
from snnlab.errors import CheckpointError
from snnlab.ir import from_nir, load
from snnlab.train import load_run

from .conftest import spikes

MODEL_CFG = {"name": "mlp_snn", "in_features": 10, "num_classes": 3, "hidden": [8], "dt": 0.002}


@pytest.fixture
def run_dir(tmp_path):
    """A run folder as the trainer writes it: config.yaml and checkpoints/best.pt."""
    from snnlab.models import create_model
    from snnlab.train.checkpoint import atomic_save
    from snnlab.train.config import config_from_dict

    torch.manual_seed(0)
    folder = tmp_path / "runs" / "tiny"
    folder.mkdir(parents=True)
    config_from_dict({"model": dict(MODEL_CFG)}).save(folder / "config.yaml")
    model = create_model(**MODEL_CFG)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(2.0)
    atomic_save({"format": 1, "epoch": 1, "model": model.state_dict()}, folder / "checkpoints" / "best.pt")
    return folder


def test_load_run_model_restores_the_weights(run_dir):
    model = load_run(run_dir).model
    state = torch.load(run_dir / "checkpoints" / "best.pt", weights_only=True)["model"]
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())


def test_export_run_writes_model_nir_with_the_run_dt(run_dir, capsys):
    assert main(["export", str(run_dir), "--to", "nir"]) == 0
    path = run_dir / "model.nir"
    assert capsys.readouterr().out.strip() == str(path)
    graph = load(path)
    assert graph.metadata["dt"] == pytest.approx(0.002)
    x = spikes(6, 2, 10)
    assert torch.equal(from_nir(path)(x), load_run(run_dir).model(x))


def test_export_to_a_hardware_profile_writes_a_descriptor(run_dir):
    out = run_dir / "chip.json"
    assert main(["export", str(run_dir), "--to", "loihi2", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert isinstance(data, dict) and data


@pytest.mark.parametrize(
    "setup,message",
    [
        (lambda d: d / "missing", "does not exist"),
        (lambda d: (d / "checkpoints" / "best.pt").unlink() or d, "no checkpoint"),
        (lambda d: (d / "config.yaml").unlink() or d, "config.yaml"),
    ],
)
def test_errors_are_one_line(run_dir, capsys, setup, message):
    folder = setup(run_dir)
    assert main(["export", str(folder)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_unsupported_module_is_one_line(tmp_path, capsys):
    from snnlab.models import create_model
    from snnlab.train.checkpoint import atomic_save
    from snnlab.train.config import config_from_dict

    cfg = {"name": "conv_snn", "input_shape": [1, 8, 8], "channels": [2], "kernel_size": 3, "pool": 2}
    folder = tmp_path / "conv"
    folder.mkdir()
    config_from_dict({"model": dict(cfg)}).save(folder / "config.yaml")
    atomic_save({"format": 1, "model": create_model(**cfg).state_dict()}, folder / "checkpoints" / "last.pt")
    assert main(["export", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "MaxPool2d" in err and err.count("\n") == 1
    with pytest.raises(CheckpointError):
        load_run(tmp_path / "nowhere")
