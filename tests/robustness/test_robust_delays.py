"""Bad input to the delay-convolution kernels: one ValueError naming the argument and what is valid."""

from __future__ import annotations

import pytest
import torch

from snnlab.kernels import dispatch
from snnlab.nn import DelayedLinear  # also loads the delay kernels

X, KERNEL = torch.zeros(2, 3, 5), torch.zeros(4, 3, 6)

DENSE_CASES = {
    # name: (x, kernel, t_out, text the message must hold)
    "x not 3-D": (torch.zeros(3, 5), KERNEL, 5, r"expected x \(B, I, T\) and kernel \(O, I, K\), got x \(3, 5\)"),
    "kernel not 3-D": (X, torch.zeros(4, 3), 5, r"got x \(2, 3, 5\), kernel \(4, 3\)"),
    "channels differ": (X, torch.zeros(4, 2, 6), 5, r"kernel \(4, 2, 6\)"),
    "output shorter than input": (X, KERNEL, 4, "t_out must be >= T=5, got 4"),
    "dtypes differ": (X, KERNEL.double(), 5, "must share a float dtype, got torch.float32, torch.float64"),
    "integer input": (X.long(), KERNEL.long(), 5, "must share a float dtype, got torch.int64"),
}


@pytest.mark.parametrize("backend", ["numba"])
@pytest.mark.parametrize("case", sorted(DENSE_CASES))
def test_dense_delay_bad_arguments(backend, case):
    x, kernel, t_out, match = DENSE_CASES[case]
    with pytest.raises(ValueError, match=match):
        dispatch("delay.dense", backend, x, kernel, t_out)


@pytest.mark.parametrize("value", [-1.0, float("nan"), float("inf"), "1", True])
def test_delayed_linear_bad_dense_cost(value):
    with pytest.raises(ValueError, match=r"DelayedLinear: dense_cost must be a finite number >= 0, got "):
        DelayedLinear(3, 2, 5, dense_cost=value)
