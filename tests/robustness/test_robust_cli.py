"""Bad command-line values and damaged run-folder files for eval, export, simulate and report."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch


@pytest.fixture
def run_copy(evaluated_run, tmp_path) -> Path:
    dst = tmp_path / "run"
    shutil.copytree(evaluated_run, dst)
    return dst


def _text_file(tmp: Path) -> Path:
    (tmp / "in.txt").write_text("hello\n")
    return tmp / "in.txt"


def _pickled_npz(tmp: Path) -> Path:
    np.savez(tmp / "obj.npz", x=np.array([{"a": 1}], dtype=object))
    return tmp / "obj.npz"


def _pickle_file(tmp: Path) -> Path:
    (tmp / "p.npz").write_bytes(pickle.dumps({"x": 1}))
    return tmp / "p.npz"


def _a_file(tmp: Path) -> Path:
    (tmp / "taken").write_text("x")
    return tmp / "taken"


def _spiking_readout_nir(tmp: Path) -> Path:
    """A .nir file whose output layer is a spiking LIF (nothing for --readout to rewrite)."""
    from torch import nn

    from snnlab import ir
    from snnlab import nn as snn

    model = nn.Sequential(snn.TimeDistributed(nn.Linear(4, 3)), snn.LIF(tau=2.0))
    return ir.save(ir.to_nir(model, 1e-3), tmp / "spiking.nir")


# argv (RUN and TMP are replaced) -> substrings of the one error line
ARGV_CASES = {
    "simulate --steps 0": (["simulate", "RUN", "--steps", "0"], "--steps", ">= 1"),
    "simulate --steps -3": (["simulate", "RUN", "--steps", "-3"], "--steps", ">= 1"),
    "simulate --input folder": (["simulate", "RUN", "--input", "TMP"], "--input", "is a folder", ".npz"),
    "simulate --input missing": (["simulate", "RUN", "--input", "TMP/none.npz"], "--input", "no such file"),
    "simulate --input text": (["simulate", "RUN", "--input", _text_file], "in.txt", "not an .npz", ".npz"),
    "simulate --input pickled npz": (
        ["simulate", "RUN", "--input", _pickled_npz],
        "obj.npz",
        "pickled",
        "never loaded",
    ),
    "simulate --input a pickle": (["simulate", "RUN", "--input", _pickle_file], "p.npz", "pickle", "never loaded"),
    "simulate --out a file": (["simulate", "RUN", "--out", _a_file], "--out", "is a file", "folder"),
    "simulate --record unknown": (["simulate", "RUN", "--record", "nolayer"], "--record", "nolayer", "all"),
    "simulate missing target": (["simulate", "TMP/none"], "none", "not found"),
    "export --out a folder": (["export", "RUN", "--to", "nir", "--out", "TMP"], "--out", "is a folder", "model.nir"),
    "export --out under a file": (
        ["export", "RUN", "--to", "nir", "--out", lambda t: _a_file(t) / "x.nir"],
        "--out",
        "is a file",
    ),
    "export unknown chip": (["export", "RUN", "--to", "nochip"], "nochip", "loihi2"),
    "export --readout if to a chip": (["export", "RUN", "--to", "loihi2", "--readout", "if"], "--readout", "--to nir"),
    "export --readout if of a spiking readout": (
        ["export", _spiking_readout_nir, "--to", "nir", "--readout", "if"],
        "--readout if",
        "no LI readout",
        "LIF",
    ),
    "report --steps 0": (["report", "RUN", "--steps", "0"], "--steps", ">= 1"),
    "report --hw empty": (["report", "RUN", "--hw", ""], "--hw", "no profile", "loihi2"),
    "report --hw unknown": (["report", "RUN", "--hw", "nochip"], "nochip", "loihi2"),
    "report missing run": (["report", "TMP/none"], "none", "does not exist"),
    "eval --device cuda (none here)": (["eval", "RUN", "--device", "cuda"], "--device", "cuda"),
    "eval --device tpu": (["eval", "RUN", "--device", "tpu"], "--device", "'tpu'", "cpu, cuda"),
    "eval --samples 0": (["eval", "RUN", "--samples", "0"], "--samples", ">= 1"),
    "eval not a run folder": (["eval", "TMP"], "not a run folder", "config.yaml"),
}


def _argv(items, run: Path, tmp: Path) -> list[str]:
    out = []
    for item in items:
        item = item(tmp) if callable(item) else item
        out.append(str(item).replace("RUN", str(run)).replace("TMP", str(tmp)))
    return out


@pytest.mark.parametrize("case", sorted(ARGV_CASES))
def test_bad_command_line(cli_error, run_copy, tmp_path, case):
    if case.startswith("eval --device cuda") and torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    items, *expected = ARGV_CASES[case]
    work = tmp_path / "work"
    work.mkdir()
    cli_error(_argv(items, run_copy, work), *expected)


def _write(name: str, payload: bytes):
    def damage(run: Path) -> None:
        (run / name).write_bytes(payload)

    return damage


def _npz_without_layer(run: Path) -> None:
    np.savez(run / "spikes.npz", layers=np.array(["hidden.0"]), input=np.zeros(1))


# damage to a run-folder file -> (command, substrings)
FOLDER_CASES = {
    "activity.json not JSON": (_write("activity.json", b"{not json"), "report", "activity.json", "snnlab eval"),
    "activity.json binary": (_write("activity.json", b"\x00\xff\xfe"), "report", "activity.json", "snnlab eval"),
    "activity.json a list": (_write("activity.json", b"[1, 2]"), "report", "activity.json", "snnlab eval"),
    "model.nir text": (_write("model.nir", b"not hdf5"), "report", "model.nir", "not a readable NIR graph"),
    "spikes.npz text": (_write("spikes.npz", b"garbage"), "report", "spikes.npz", "not an .npz"),
    "spikes.npz missing a layer": (_npz_without_layer, "report", "spikes.npz", "snnlab eval"),
    "model.nir text (simulate)": (_write("model.nir", b"not hdf5"), "simulate", "model.nir", "not a readable NIR"),
    "config.yaml binary (eval)": (_write("config.yaml", b"\x00\xff\xfe"), "eval", "config.yaml"),
    "best.pt truncated (eval)": (
        lambda run: (run / "checkpoints" / "best.pt").write_bytes(b"PK\x03"),
        "eval",
        "best.pt",
        "not a readable checkpoint",
    ),
}


@pytest.mark.parametrize("case", sorted(FOLDER_CASES))
def test_damaged_run_folder(cli_error, run_copy, case):
    damage, command, *expected = FOLDER_CASES[case]
    damage(run_copy)
    cli_error([command, run_copy], *expected)


def test_simulate_records_hidden_layers(run_copy, capsys):
    """``--record all`` writes the hidden layer's spikes beside the outputs."""
    import numpy as np

    from snnlab.cli import main

    assert main(["simulate", str(run_copy), "--record", "all"]) == 0
    with np.load(run_copy / "sim" / "spikes.npz") as data:
        names = set(data.files)
    assert "spikes_hidden.0.neuron" in names and "values_output" in names
