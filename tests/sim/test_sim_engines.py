"""The simulator's engines live in the one backend registry (op ``sim_engine``)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from snnlab.errors import BackendError
from snnlab.kernels.registry import KERNELS
from snnlab.sim import Network, Simulator
from snnlab.sim.engines import OP, engine_backends


def test_engines_are_registered_beside_the_kernels():
    assert set(engine_backends()) == {"numba", "cuda", "reference"}
    assert all((OP, b) in KERNELS for b in engine_backends())


def test_unknown_backend_lists_the_engines(sim_nets):
    g, _ = sim_nets.mlp(np.random.default_rng(0))
    with pytest.raises(BackendError, match=r"backend 'gpu' is not valid; choose one of auto, .*numba.*reference"):
        Simulator(g, backend="gpu")
    with pytest.raises(BackendError, match="NIR graphs only"):
        Simulator(Network(dt=1e-3).plan, backend="reference")


def test_reference_and_numba_engines_agree(sim_nets):
    rng = np.random.default_rng(3)
    g, ref = sim_nets.mlp(rng)
    x = (rng.random((12, 2, 12)) < 0.3).astype(np.float64)
    outs = {b: Simulator(g, backend=b).run(x).output("output") for b in ("reference", "numba")}
    np.testing.assert_array_equal(outs["reference"].reshape(ref(x).shape), ref(x))
    np.testing.assert_array_equal(outs["numba"], outs["reference"])


def test_choosing_an_engine_imports_no_torch():
    code = (
        "import sys, numpy as np, nir\n"
        "from snnlab.sim import Simulator\n"
        "nodes = {'input': nir.Input(np.array([2])), 'fc': nir.Linear(np.eye(2)), 'output': nir.Output(np.array([2]))}\n"
        "g = nir.NIRGraph(nodes, [('input', 'fc'), ('fc', 'output')], metadata={'dt': 1e-3})\n"
        "out = Simulator(g, backend='reference').run(np.ones((3, 1, 2))).output('output')\n"
        "assert out.sum() == 6, out\n"
        "assert 'torch' not in sys.modules"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-800:]
