"""The spectral ``delay.dense`` kernel (CPU fast path) equals the conv1d reference: values and gradients."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from snnlab.kernels import dispatch, has_kernel
from snnlab.kernels.common import spectral_delay
from snnlab.nn import DelayedLinear

TOL = {torch.float32: dict(rtol=1e-4, atol=1e-4), torch.float64: dict(rtol=1e-10, atol=1e-10)}


def grads(backend, x, kernel, t_out, x_grad=True):
    """Output and gradients (x, kernel) of ``delay.dense`` for a fixed non-trivial output gradient."""
    x = x.clone().requires_grad_(x_grad)
    kernel = kernel.clone().requires_grad_(True)
    y = dispatch("delay.dense", backend, x, kernel, t_out)
    gy = torch.linspace(-1, 1, y.numel(), dtype=y.dtype).reshape(y.shape)
    (y * gy).sum().backward()
    return y.detach(), x.grad, kernel.grad


def test_spectral_kernel_registered_for_cpu():
    assert has_kernel("delay.dense", "numba") and has_kernel("delay.dense", "torch")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@settings(max_examples=25, deadline=None)
@given(
    B=st.integers(1, 4),
    I=st.integers(1, 7),
    O=st.integers(1, 7),
    T=st.integers(1, 20),
    K=st.integers(1, 12),
    extra=st.integers(0, 30),
    seed=st.integers(0, 1000),
)
def test_spectral_equals_conv(dtype, B, I, O, T, K, extra, seed):
    """Any sizes, incl. T = 1, K = 1 and outputs longer than T + K - 1; a permuted time-major input."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(T, B, I, generator=gen, dtype=dtype).permute(1, 2, 0)  # (B, I, T) view
    kernel = torch.randn(O, I, K, generator=gen, dtype=dtype)
    ref = grads("torch", x, kernel, T + extra)
    fast = grads("numba", x, kernel, T + extra)
    for a, b, name in zip(fast, ref, ("output", "grad x", "grad kernel")):
        torch.testing.assert_close(a, b, **TOL[dtype], msg=name)


def test_spectral_contiguous_batch_major_input():
    """A contiguous ``(B, I, T)`` input (not a time-major view) gives the same result."""
    gen = torch.Generator().manual_seed(2)
    x = (torch.rand(6, 9, 31, generator=gen) < 0.2).double()
    kernel = torch.randn(5, 9, 25, generator=gen, dtype=torch.float64)
    for a, b in zip(grads("numba", x, kernel, 43), grads("torch", x, kernel, 43)):
        torch.testing.assert_close(a, b, **TOL[torch.float64])


def test_spectral_gradcheck():
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(2, 3, 6, generator=gen, dtype=torch.float64, requires_grad=True)
    kernel = torch.randn(2, 3, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, k: spectral_delay.dense_spectral(a, k, 9), (x, kernel))


def test_input_gradient_skipped_when_input_needs_none(monkeypatch):
    """A first layer's input (data) needs no gradient: backward runs only the kernel-gradient GEMMs."""
    calls = []
    real = spectral_delay._cmm
    monkeypatch.setattr(spectral_delay, "_cmm", lambda *a: calls.append(a[2]) or real(*a))
    gen = torch.Generator().manual_seed(1)
    x, kernel = torch.randn(3, 4, 10, generator=gen), torch.randn(5, 4, 6, generator=gen)
    fast = grads("numba", x, kernel, 14, x_grad=False)
    assert fast[1] is None and calls == [False, True]  # forward product, then the kernel gradient only
    torch.testing.assert_close(fast[2], grads("torch", x, kernel, 14, x_grad=False)[2], **TOL[torch.float32])
    calls.clear()
    grads("numba", x, kernel, 14)
    assert calls == [False, True, True]  # with the input gradient


@pytest.mark.parametrize("kernel_count", [1, 3])
def test_layer_dense_path_numba_equals_torch(kernel_count):
    """DelayedLinear's dense path: output and gradients of x, weights and positions, float64."""
    results = []
    for backend in ("torch", "numba"):
        torch.manual_seed(0)
        layer = DelayedLinear(13, 7, 25, kernel_count=kernel_count, path="dense", backend=backend, bias=True)
        layer = layer.double()
        x = (torch.rand(40, 5, 13, dtype=torch.float64) < 0.1).double() * 2
        x.requires_grad_(True)
        y = layer(x)
        (y * torch.linspace(-1, 1, y.numel(), dtype=y.dtype).reshape(y.shape)).sum().backward()
        results.append((y.detach(), x.grad, layer.weight.grad, layer.positions.grad, layer.bias.grad))
    assert results[1][0].is_contiguous()  # (T', B, O) time-major without a copy
    for a, b, name in zip(*results, ("output", "grad x", "grad weight", "grad positions", "grad bias")):
        torch.testing.assert_close(a, b, **TOL[torch.float64], msg=name)


def test_spectral_float32_error_bounded_by_float64_reference():
    """float32 at SHD-like sizes: error vs the float64 result within a few times conv1d's own float32 error."""
    gen = torch.Generator().manual_seed(7)
    x = (torch.rand(100, 16, 64, generator=gen) < 0.08).double().permute(1, 2, 0)
    kernel = torch.randn(32, 64, 25, generator=gen, dtype=torch.float64) * 0.1
    exact = grads("torch", x, kernel, 112)
    ref32 = grads("torch", x.float(), kernel.float(), 112)
    fast32 = grads("numba", x.float(), kernel.float(), 112)
    for e, r, f in zip(exact, ref32, fast32):
        scale = float(e.abs().max())
        err_ref, err_fast = float((r.double() - e).abs().max()), float((f.double() - e).abs().max())
        assert err_fast <= max(8 * err_ref, 1e-6 * scale)


@pytest.mark.parametrize(
    "sigma, truncate, steps, dense",
    [
        (12.0, 3.0, 100, True),  # full window (the first epochs)
        (0.23, 3.0, 100, True),  # end of the schedule: S = 4 > 1.5 (T + K - 1) / T
        (0.23, 1.0, 60, False),  # S T = 120 < 1.5 * 84
        (0.23, 3.0, 10, False),  # short input: S T = 40 < 1.5 * 34
    ],
)
def test_auto_path_by_cost(sigma, truncate, steps, dense):
    layer = DelayedLinear(4, 3, 25, sigma_init=sigma, truncate=truncate)
    assert layer.use_dense(steps) is dense
    assert not layer.eval().use_dense(steps)  # evaluation: one integer tap per synapse
    assert DelayedLinear(4, 3, 25, sigma_init=0.23, truncate=1.0, dense_cost=0).use_dense(steps)
