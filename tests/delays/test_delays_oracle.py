"""Outside oracle: the DCLS package's Dcls1d(version='gauss') with our parameters copied in."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as TF

from snnlab.nn import DelayedLinear

DCLS = pytest.importorskip("DCLS.construct.modules")
pytestmark = pytest.mark.peers


def run_pair(layer: DelayedLinear, x: torch.Tensor):
    """Forward+backward of ours and of a Dcls1d holding the same weight, positions and sigma."""
    K, M = layer.max_delay, layer.kernel_count
    ref = DCLS.Dcls1d(
        layer.in_features, layer.out_features, kernel_count=M, dilated_kernel_size=K, bias=False, version="gauss"
    ).to(x.dtype)
    with torch.no_grad():
        ref.weight.copy_(layer.weight)
        ref.P.copy_(layer.positions.unsqueeze(0))
        ref.SIG.fill_(float(layer.sigma))
    xa = x.clone().requires_grad_(True)
    xb = x.clone().requires_grad_(True)
    ya = layer(xa)
    yb = ref(TF.pad(xb.permute(1, 2, 0), (K - 1, layer.right_pad))).permute(2, 0, 1)
    gy = torch.randn_like(ya)
    (ya * gy).sum().backward()
    (yb * gy).sum().backward()
    return (ya, xa.grad, layer.weight.grad, layer.positions.grad), (yb, xb.grad, ref.weight.grad, ref.P.grad[0])


@pytest.mark.parametrize("path", ["dense", "taps"])
@pytest.mark.parametrize("sigma", [12.0, 2.0, 0.23])
@pytest.mark.parametrize("kernel_count", [1, 2])
def test_equals_dcls_exact_window(cpu_backend, path, sigma, kernel_count):
    backend = cpu_backend
    torch.manual_seed(0)
    layer = DelayedLinear(
        11, 6, 25, kernel_count=kernel_count, sigma_init=sigma, truncate=100.0, path=path, backend=backend
    ).double()
    ours, theirs = run_pair(layer, torch.randn(20, 3, 11, dtype=torch.float64))
    for a, b, name in zip(ours, theirs, ("output", "grad x", "grad weight", "grad positions")):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-10, msg=name)


def test_default_truncation_within_tolerance_of_dcls(cpu_backend):
    backend = cpu_backend
    torch.manual_seed(0)
    layer = DelayedLinear(32, 16, 25, sigma_init=0.23, path="taps", backend=backend)
    assert not layer.use_dense(40)
    ours, theirs = run_pair(layer, (torch.rand(40, 4, 32) < 0.3).float())
    for a, b in zip(ours, theirs):
        a, b = a.detach(), b.detach()
        assert float((a - b).abs().max()) <= 2e-3 * float(b.abs().max())
