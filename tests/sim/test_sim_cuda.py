"""The numba-cuda backend, tested under the CUDA simulator in a fresh interpreter.

``NUMBA_ENABLE_CUDASIM`` must be set before ``numba.cuda`` is first imported, which may
already have happened in this process; ``cuda_cases.py`` therefore runs in a subprocess.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from snnlab.sim import Simulator

HERE = Path(__file__).resolve().parent


@pytest.mark.cuda
def test_cuda_kernels_match_numba_under_simulator():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "cuda",
                           str(HERE / "cuda_cases.py")], capture_output=True, text=True, env=env,
                          cwd=HERE.parents[1], timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "3 passed" in proc.stdout, proc.stdout[-2000:]


def test_auto_never_picks_cuda(sim_nets):
    g, _ = sim_nets.mlp(__import__("numpy").random.default_rng(0))
    assert Simulator(g).backend == "numba"


def test_explicit_cuda_without_gpu_is_a_clear_error(sim_nets):
    """Without a GPU and without the simulator, backend='cuda' raises BackendError (never falls back)."""
    code = ("import sys, numpy as np; sys.path.insert(0, 'tests/sim'); import conftest as c\n"
            "from numba import cuda; from snnlab.sim import Simulator; from snnlab.errors import BackendError\n"
            "g, _ = c.mlp(np.random.default_rng(0))\n"
            "try:\n    Simulator(g, backend='cuda'); print('RAN', cuda.is_available())\n"
            "except BackendError as e:\n    print('ERR', cuda.is_available(), e)\n")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=HERE.parents[1], timeout=300)
    assert proc.stdout.startswith(("RAN True", "ERR False")), proc.stdout + proc.stderr[-2000:]
    if proc.stdout.startswith("ERR"):
        assert "NUMBA_ENABLE_CUDASIM" in proc.stdout
