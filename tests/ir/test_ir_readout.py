"""``snnlab export --readout lif|if``: the LI readout rewritten as a LIF / IF node that never fires.

snnlab's own event-driven simulation of the rewritten file is the reference: a ``lif`` readout's
membrane equals the trained model's LI output at every step (so every decision is kept); an ``if``
readout's membrane is the running sum of the readout's input current. The peer tests load the
same file in norse, snnTorch and spikingjelly and read the readout's membrane there.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path

import nir
import numpy as np
import pytest
import torch

from snnlab.cli import main
from snnlab.errors import GraphError
from snnlab.ir import load, to_nir
from snnlab.ir.readout import NEVER_FIRES, readout_nodes, with_readout
from snnlab.sim import Simulator

from .conftest import spikes

DT = 1e-4  # the dt snnTorch's importer hard-codes; the others are told it


def make_run(tmp_path: Path, **model: object) -> Path:
    """A run folder (config.yaml, best.pt) of a 10 -> 8 LIF -> 3 LI mlp_snn, weights scaled to fire."""
    from snnlab.models import create_model
    from snnlab.train.checkpoint import atomic_save
    from snnlab.train.config import config_from_dict

    cfg = {"name": "mlp_snn", "in_features": 10, "num_classes": 3, "hidden": [8], "dt": DT, **model}
    torch.manual_seed(0)
    folder = tmp_path / "runs" / "tiny"
    folder.mkdir(parents=True)
    config_from_dict({"model": dict(cfg)}).save(folder / "config.yaml")
    net = create_model(**cfg)
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(3.0)
    atomic_save({"format": 1, "epoch": 1, "model": net.state_dict()}, folder / "checkpoints" / "best.pt")
    return folder


def export(run: Path, readout: str) -> Path:
    """``snnlab export RUN --to nir --readout R``; the path it printed."""
    assert main(["export", str(run), "--to", "nir", "--readout", readout]) == 0
    return run / f"model_{readout}.nir"


def simulate_membrane(path: Path, x: torch.Tensor) -> tuple[str, np.ndarray, float]:
    """snnlab's event-driven run of the file: ``(readout name, membrane (T, B, C), spikes fired)``."""
    graph = load(path)
    (name,) = readout_nodes(graph)
    result = Simulator(graph, record_v=[name], dtype=np.float64).run(x.numpy().astype(np.float64))
    return name, result.v[name], float(result.counts["spikes"].get(name, 0.0))


def _model(run: Path) -> torch.nn.Module:
    from snnlab.train import load_run

    return load_run(run).model.eval()


def _readout_current(run: Path, x: torch.Tensor) -> torch.Tensor:
    """The input current of the trained model's readout, (T, B, C)."""
    model, seen = _model(run), []
    model.readout.register_forward_hook(lambda module, args, out: seen.append(args[0]))
    with torch.no_grad():
        model(x)
    return seen[0]


@pytest.mark.parametrize("decay_input", [True, False])
def test_lif_readout_membrane_equals_the_li_output(tmp_path, decay_input):
    run = make_run(tmp_path, decay_input=decay_input)
    path = export(run, "lif")
    assert (run / "model.nir").exists() is False  # model.nir (LI, what simulate/report read) is not touched
    node = load(path).nodes[readout_nodes(load(path))[0]]
    assert isinstance(node, nir.LIF) and np.all(node.v_threshold == NEVER_FIRES)
    x = spikes(16, 4, 10)
    _, v, fired = simulate_membrane(path, x)
    with torch.no_grad():
        out = _model(run)(x)
    assert fired == 0
    np.testing.assert_allclose(v, out.double().numpy(), rtol=1e-5, atol=1e-5)
    assert np.array_equal(v.mean(0).argmax(-1), out.mean(0).argmax(-1).numpy())  # the decision is kept


def test_if_readout_membrane_is_the_summed_current(tmp_path):
    run = make_run(tmp_path)
    path = export(run, "if")
    x = spikes(16, 4, 10)
    _, v, fired = simulate_membrane(path, x)
    assert fired == 0
    current = _readout_current(run, x)
    np.testing.assert_allclose(v, current.double().cumsum(0).numpy(), rtol=1e-5, atol=1e-4)


def test_li_is_unchanged_and_errors_name_the_readout():
    graph = to_nir(torch.nn.Sequential(*_spiking_readout()), DT)
    assert with_readout(graph, "li") is graph
    with pytest.raises(GraphError, match="unknown readout 'sum'.*li, if, lif"):
        with_readout(graph, "sum")
    with pytest.raises(GraphError, match="no LI readout feeds the graph output.*LIF"):
        with_readout(graph, "if")
    assert with_readout(graph, "lif") is graph  # already a spiking LIF readout


def _spiking_readout() -> list[torch.nn.Module]:
    from snnlab import nn as snn

    return [snn.TimeDistributed(torch.nn.Linear(4, 3)), snn.LIF(tau=2.0)]


# --------------------------------------------------------------------------- peers
def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            return fn(*args, **kwargs)
        finally:
            logging.disable(logging.NOTSET)


def _norse(path: Path, name: str, x: torch.Tensor) -> torch.Tensor:
    norse = pytest.importorskip("norse.torch")
    net = _quiet(norse.from_nir, load(path), dt=DT)  # dt is needed: norse's default is 1e-3
    state, vs = None, []
    for step in x:
        _, state = net(step, state)
        vs.append(state.state[name][0].v)
    return torch.stack(vs)


def _snntorch(path: Path, name: str, x: torch.Tensor) -> torch.Tensor:
    module = pytest.importorskip("snntorch.import_nir")
    net = _quiet(module.import_from_nir, load(path))  # assumes dt = 1e-4 s
    neuron, vs = dict(net.named_modules())[name], []
    for step in x:
        net(step, None)
        vs.append(neuron.mem.clone())
    return torch.stack(vs)


def _spikingjelly(path: Path, name: str, x: torch.Tensor) -> torch.Tensor:
    module = pytest.importorskip("spikingjelly.activation_based.nir_exchange.from_nir")
    net = _quiet(module.import_from_nir, str(path), dt=DT)
    state, vs = None, []
    for step in x:
        _, state = net(step, state)
        vs.append(state[name][0])
    return torch.stack(vs)


def _scale(peer: str, node: nir.NIRNode) -> float:
    """snnlab's membrane / the peer's: norse ignores LIF ``r``; snnTorch integrates unscaled input."""
    if isinstance(node, nir.IF):
        return 1.0
    r, tau_steps = float(np.unique(node.r)[0]), float(np.unique(node.tau)[0]) / DT
    return {"norse": r, "snntorch": r / tau_steps, "spikingjelly": 1.0}[peer]


PEERS = {"norse": _norse, "snntorch": _snntorch, "spikingjelly": _spikingjelly}
CASES = [  # (peer, readout, decay_input) where the hidden layer coincides (see docs/export.md)
    ("norse", "lif", True),
    ("norse", "if", True),
    ("snntorch", "lif", True),
    ("snntorch", "lif", False),
    ("spikingjelly", "lif", True),
    ("spikingjelly", "lif", False),
    ("spikingjelly", "if", True),
]


@pytest.mark.peers
@pytest.mark.parametrize("peer,readout,decay_input", CASES)
def test_peer_reads_the_exported_readout_as_snnlab_simulates_it(tmp_path, peer, readout, decay_input):
    run = make_run(tmp_path, decay_input=decay_input)
    path = export(run, readout)
    x = spikes(16, 4, 10)
    name, v, _ = simulate_membrane(path, x)
    got = PEERS[peer](path, name, x).detach().double().numpy() * _scale(peer, load(path).nodes[name])
    np.testing.assert_allclose(got, v, rtol=1e-4, atol=1e-4)
    assert np.array_equal(got.mean(0).argmax(-1), v.mean(0).argmax(-1))


@pytest.mark.peers
def test_snntorch_cannot_read_an_if_readout(tmp_path):
    """snnTorch maps IF to a leaky neuron (beta 0.9) and needs r = 1: use --readout lif for it."""
    path = export(make_run(tmp_path), "if")
    module = pytest.importorskip("snntorch.import_nir")
    with pytest.raises(AssertionError, match="r != 1"):
        _quiet(module.import_from_nir, load(path))
