"""numba-cuda kernels equal the torch reference, run under the CUDA simulator on tiny shapes.

Marked ``cuda``: skipped in the usual process and run by tests/test_cuda_simulator.py in a
subprocess with ``NUMBA_ENABLE_CUDASIM=1`` (numba reads it when it is first imported).
"""

from __future__ import annotations

import pytest
import torch

from snnlab.errors import BackendError
from snnlab.functional.surrogate import SURROGATES

from .neuron_cases import KINDS, assert_same, make_inputs, make_params, run

pytestmark = pytest.mark.cuda


def _check(kind, dtype, hard, decay, detach, surrogate=None, T=5, M=7):
    x, state, k = make_inputs(kind, T, M, dtype, seed=3)
    p = make_params(kind, hard, decay, detach)
    ref = run("torch", kind, x, state, p, surrogate, k)
    res = run("cuda", kind, x, state, p, surrogate, k)
    assert_same(res, ref, dtype)


@pytest.mark.parametrize("dtype", (torch.float64, torch.float32), ids=str)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("hard,decay,detach", [(True, True, False), (False, False, True), (True, False, True)])
def test_cuda_matches_torch(kind, dtype, hard, decay, detach):
    _check(kind, dtype, hard, decay, detach)


@pytest.mark.parametrize("name", ("sigmoid", "fast_sigmoid", "triangle", "rectangular"))
def test_cuda_matches_torch_every_surrogate(name):
    _check("lif", torch.float64, True, True, False, SURROGATES[name](1.5))


def test_cuda_float16_spikes_match_reference():
    x, state, _ = make_inputs("lif", 4, 6, torch.float16, seed=5)
    p = make_params("lif")
    ref = run("torch", "lif", x, state, p)
    res = run("cuda", "lif", x, state, p)
    torch.testing.assert_close(res["out"], ref["out"], rtol=0, atol=0)
    torch.testing.assert_close(res["grads"][0], ref["grads"][0], rtol=2e-2, atol=2e-2)


def test_cuda_equals_numba_including_nan():
    from tests.cuda_device import dispatch

    x, state, _ = make_inputs("lif", 4, 6, torch.float64, seed=2)
    x = x.detach().clone()
    x[1, 2], x[0, 4] = float("nan"), float("inf")
    p, sg = make_params("lif"), SURROGATES["atan"]()
    a = dispatch("neuron.lif", "cuda", x, state, p, sg, return_v=True)
    b = dispatch("neuron.lif", "numba", x, state, p, sg, return_v=True)
    torch.testing.assert_close(a[0], b[0], equal_nan=True)
    torch.testing.assert_close(a[2], b[2], equal_nan=True)
    assert torch.isnan(a[2][1:, 2]).all() and a[0][1:, 2].eq(0).all()


def test_registry_refuses_cpu_tensors_for_cuda():
    from snnlab.kernels import get_backend

    with pytest.raises(BackendError):
        get_backend("cuda", torch.zeros(3), op="neuron.lif")
