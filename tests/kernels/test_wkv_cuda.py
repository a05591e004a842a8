"""numba-cuda WKV kernels equal the torch reference, run under the CUDA simulator on tiny shapes.

``NUMBA_ENABLE_CUDASIM`` must be set before numba is imported, so without it this file re-runs
itself in a subprocess with the variable set (as tests/kernels/test_kernels_cuda.py does).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SIMULATED = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
pytestmark = pytest.mark.cuda
in_simulator = pytest.mark.skipif(not SIMULATED, reason="runs in the NUMBA_ENABLE_CUDASIM=1 subprocess")
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(SIMULATED, reason="already inside the simulator")
def test_wkv_cuda_suite_under_simulator():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "cuda", str(Path(__file__))]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout


@in_simulator
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-11), (torch.float32, 2e-4)], ids=str)
@pytest.mark.parametrize("k_scale", (1.0, 30.0))
def test_cuda_wkv_equals_torch_and_numba(dtype, tol, k_scale):
    from tests.functional.test_wkv import make_wkv_inputs
    from tests.kernels.test_wkv_kernels import run

    w, u, k, v = make_wkv_inputs(2, 6, 3, dtype=dtype, k_scale=k_scale)
    g = torch.randn(k.shape, dtype=dtype, generator=torch.Generator().manual_seed(2))
    ours = run("cuda", w, u, k, v, g)
    for ref in (run("torch", w, u, k, v, g), run("numba", w, u, k, v, g)):
        for a, b in zip(ours, ref):
            torch.testing.assert_close(a, b, rtol=tol, atol=tol)


@in_simulator
def test_cuda_wkv_registered_and_empty():
    from snnlab.kernels import dispatch, has_kernel
    from tests.functional.test_wkv import make_wkv_inputs

    assert has_kernel("wkv", "cuda")
    w, u, k, v = make_wkv_inputs(T=0)
    assert dispatch("wkv", "cuda", w, u, k, v).shape == (2, 0, 5)
