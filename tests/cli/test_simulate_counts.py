"""``snnlab simulate`` prints the synaptic events the cost model and the demo's sim_check count.

counts.json also lists identity edges (the LI readout copied into the Output node, T x B x C
values); the activity profile, sim_check and the cost model leave them out (docs/simulation.md).
"""

from __future__ import annotations

import json
import re

import numpy as np
import torch

from snnlab.cli import main
from snnlab.ir import save, to_nir
from snnlab.models import create_model
from snnlab.sim import Simulator
from snnlab.sim.check import compare_runs

T, B, C = 8, 4, 5


def test_simulate_counts_what_sim_check_counts(tmp_path, capsys):
    torch.manual_seed(0)
    model = create_model("mlp_snn", in_features=20, num_classes=C, hidden=[16], dt=1e-3).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)
    graph = to_nir(model)
    path = save(graph, tmp_path / "m.nir")
    x = (np.random.default_rng(0).random((T, B, 20)) < 0.3).astype(np.float64)
    np.savez(tmp_path / "in.npz", x=x)
    assert main(["simulate", str(path), "--input", str(tmp_path / "in.npz")]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    number = lambda pattern: int(re.search(pattern, line).group(1).replace(",", ""))  # noqa: E731
    printed = number(r"([\d,]+) synaptic events in synapse layers")
    copies = number(r"\+([\d,]+) copies along identity edges")

    result = Simulator(graph, dtype=np.float64).run(x)  # what the demo's sim_check runs
    check = compare_runs({}, result.output("output"), result)
    assert printed == check["synaptic_events"] > 0
    assert copies == T * B * C  # every readout value, every step
    counts = json.loads((tmp_path / "sim_m" / "counts.json").read_text())["counts"]["synaptic_events"]
    assert sum(counts.values()) == printed + copies
