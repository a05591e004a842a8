"""Files written by snnlab load in norse, snnTorch and spikingjelly and fire the same spikes.

Only where the semantics coincide (see snnlab.ir's module docstring): snnTorch's importer
hard-codes dt = 1e-4 s, so graphs here are written with that dt; soft reset is left out (none of
the three importers reads ``reset_mode``).
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings

import pytest
import torch
from torch import nn

from snnlab import nn as snn
from snnlab.ir import load, save, to_nir

from .conftest import spikes

pytestmark = pytest.mark.peers
DT = 1e-4  # the dt snnTorch's importer assumes

NEURONS = {
    "lif": lambda: snn.LIF(tau=2.0),
    "lif_no_decay_input": lambda: snn.LIF(tau=4.0, decay_input=False),
    "if": lambda: snn.IF(),
    "cuba_lif": lambda: snn.CubaLIF(tau_syn=2.0, tau_mem=3.0, w_in=2.0, r=3.0),  # w_in = tau_syn, r = tau_mem
}
COINCIDE = {
    "norse": ("lif", "if", "cuba_lif"),  # norse ignores LIF r (no decay_input=False)
    "snntorch": ("lif", "lif_no_decay_input", "cuba_lif"),  # snnTorch maps IF to a leaky neuron with beta 0.9
    "spikingjelly": ("lif", "lif_no_decay_input", "if", "cuba_lif"),
}


def _import(peer: str, path) -> nn.Module:
    if peer == "norse":
        norse = pytest.importorskip("norse.torch")
        return norse.from_nir(load(path), dt=DT)
    if peer == "snntorch":
        module = pytest.importorskip("snntorch.import_nir")
        return module.import_from_nir(load(path))
    module = pytest.importorskip("spikingjelly.activation_based.nir_exchange.from_nir")
    return module.import_from_nir(str(path), dt=DT)


def _run_stateful(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Step a nirtorch-style module ``(x_t, state) -> (y_t, state)`` over ``x (T, B, ...)``."""
    state, out = None, []
    for step in x:
        y, state = module(step, state)
        out.append(y)
    return torch.stack(out)


def _model(kind: str) -> nn.Sequential:
    torch.manual_seed(0)
    model = nn.Sequential(
        snn.TimeDistributed(nn.Linear(6, 8)), NEURONS[kind](), snn.TimeDistributed(nn.Linear(8, 3)), NEURONS[kind]()
    )
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)
    return model.eval()


@pytest.mark.parametrize("peer,kind", [(p, k) for p, kinds in COINCIDE.items() for k in kinds])
def test_peer_fires_the_same_spikes(peer, kind, tmp_path):
    model = _model(kind)
    path = save(to_nir(model, DT), tmp_path / "model.nir")
    x = spikes(20, 2, 6)
    expected = model(x)
    assert expected.sum() > 0
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            got = _run_stateful(_import(peer, path), x)
        finally:
            logging.disable(logging.NOTSET)
    assert torch.equal(got, expected)


def test_spikingjelly_runs_a_conv_graph(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(
        snn.TimeDistributed(nn.Conv2d(2, 4, 3, padding=1)),
        snn.LIF(tau=2.0),
        snn.TimeDistributed(nn.AvgPool2d(2)),
        snn.Flatten(),
        snn.TimeDistributed(nn.Linear(4 * 4 * 4, 5)),
        snn.IF(),
    ).eval()
    with torch.no_grad():
        model[0].module.weight.mul_(4.0)
    path = save(to_nir(model, DT, input_shape=(2, 8, 8)), tmp_path / "conv.nir")
    x = spikes(10, 2, 2, 8, 8)
    expected = model(x)
    assert expected.sum() > 0
    got = _run_stateful(_import("spikingjelly", path), x)
    assert torch.equal(got, expected)
