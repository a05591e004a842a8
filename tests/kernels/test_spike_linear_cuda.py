"""The numba-cuda ``linear.spikes`` kernel equals the dense reference (run under the CUDA simulator)."""

from __future__ import annotations

import pytest
import torch

from .test_spike_linear import CASES, assert_matches_dense

pytestmark = pytest.mark.cuda


@pytest.mark.parametrize("dtype", (torch.float64, torch.float32), ids=str)
@pytest.mark.parametrize("case", ["binary 5%", "dropout-scaled 15%", "counts 10%", "all zeros", "one row"])
def test_cuda_equals_dense_and_its_autograd(case, dtype):
    M, K, N, density, kind = CASES[case]
    assert_matches_dense("cuda", min(M, 24), min(K, 20), min(N, 9), density, kind, dtype)


def test_cuda_dense_path_and_no_bias():
    assert_matches_dense("cuda", 10, 12, 5, 0.8, "counts", torch.float64, max_density=0.25)
    assert_matches_dense("cuda", 10, 12, 5, 0.2, "binary", torch.float64, bias=False)
