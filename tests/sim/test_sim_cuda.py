"""Choosing the simulator's cuda engine; its cases against numba are in test_sim_cuda_cases.py
(run under the CUDA simulator by tests/test_cuda_simulator.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from snnlab.sim import Simulator

HERE = Path(__file__).resolve().parent


def test_auto_never_picks_cuda(sim_nets):
    g, _ = sim_nets.mlp(__import__("numpy").random.default_rng(0))
    assert Simulator(g).backend == "numba"


def test_explicit_cuda_without_gpu_is_a_clear_error(sim_nets):
    """Without a GPU and without the simulator, backend='cuda' raises BackendError (never falls back)."""
    code = (
        "import sys, numpy as np; sys.path.insert(0, 'tests/sim'); import conftest as c\n"
        "from numba import cuda; from snnlab.sim import Simulator; from snnlab.errors import BackendError\n"
        "g, _ = c.mlp(np.random.default_rng(0))\n"
        "try:\n    Simulator(g, backend='cuda'); print('RAN', cuda.is_available())\n"
        "except BackendError as e:\n    print('ERR', cuda.is_available(), e)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=HERE.parents[1], timeout=300
    )
    assert proc.stdout.startswith(("RAN True", "ERR False")), proc.stdout + proc.stderr[-2000:]
    if proc.stdout.startswith("ERR"):
        assert "NUMBA_ENABLE_CUDASIM" in proc.stdout
