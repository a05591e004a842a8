"""numba-cuda WKV kernels equal the torch reference, run under the CUDA simulator on tiny shapes.

Marked ``cuda``: skipped in the usual process and run by tests/test_cuda_simulator.py in a
subprocess with ``NUMBA_ENABLE_CUDASIM=1``.
"""

from __future__ import annotations

import pytest
import torch

pytestmark = pytest.mark.cuda


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


def test_cuda_wkv_registered_and_empty():
    from snnlab.kernels import has_kernel
    from tests.cuda_device import dispatch
    from tests.functional.test_wkv import make_wkv_inputs

    assert has_kernel("wkv", "cuda")
    w, u, k, v = make_wkv_inputs(T=0)
    assert dispatch("wkv", "cuda", w, u, k, v).shape == (2, 0, 5)
