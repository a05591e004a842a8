"""Fast kernels equal the torch reference: outputs and gradients, float32 and float64."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from snnlab.functional import delay as F
from snnlab.kernels import dispatch, has_kernel
from snnlab.nn import DelayedLinear  # noqa: F401  (loads the delay kernels)

TOL = {torch.float32: dict(rtol=1e-4, atol=1e-4), torch.float64: dict(rtol=1e-10, atol=1e-10)}


def grads(backend, x, g, d0, t_out):
    x = x.clone().requires_grad_(True)
    g = g.clone().requires_grad_(True)
    y = dispatch("delay.taps", backend, x, g, d0, t_out)
    gy = torch.linspace(-1, 1, y.numel(), dtype=y.dtype).reshape(y.shape)
    (y * gy).sum().backward()
    return y, x.grad, g.grad


def test_numba_kernel_registered():
    assert has_kernel("delay.taps", "numba") and has_kernel("delay.taps", "torch")


@pytest.mark.parametrize(
    "dtype", [torch.float32, pytest.param(torch.float64, marks=pytest.mark.slow)]
)  # f64: slow (compile)
@settings(max_examples=15, deadline=None)
@given(
    B=st.integers(1, 3),
    I=st.integers(1, 9),
    O=st.integers(1, 9),
    T=st.integers(1, 20),
    M=st.integers(1, 2),
    S=st.integers(1, 6),
    K=st.integers(6, 12),
    extra=st.integers(0, 6),
    seed=st.integers(0, 1000),
)
def test_numba_equals_torch(dtype, B, I, O, T, M, S, K, extra, seed):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(B, I, T, generator=gen, dtype=dtype)
    g = torch.randn(O, I, M, S, generator=gen, dtype=dtype)
    d0 = torch.randint(0, K - S + 1, (O, I, M), generator=gen)
    ref = grads("torch", x, g, d0, T + extra)
    fast = grads("numba", x, g, d0, T + extra)
    for a, b in zip(fast, ref):
        torch.testing.assert_close(a, b, **TOL[dtype])


@pytest.mark.parametrize("sigma", [0.23, 1.5, 12.0])
def test_full_window_taps_equal_dense_kernel(sigma):
    torch.manual_seed(3)
    w, p = torch.randn(4, 5, 2, dtype=torch.float64), torch.rand(4, 5, 2, dtype=torch.float64) * 8 - 4
    g, d0 = F.gauss_taps(w, p, sigma, 9, truncate=100.0)
    torch.testing.assert_close(F.taps_to_kernel(g, d0, 9), F.gauss_kernel(w, p, sigma, 9))


def test_taps_rejects_negative_delays_and_short_output():
    x, g = torch.randn(1, 2, 5), torch.randn(3, 2, 1, 2)
    with pytest.raises(ValueError, match="delays must be >= 0"):
        dispatch("delay.taps", "numba", x, g, torch.full((3, 2, 1), -1), 5)
    with pytest.raises(ValueError, match="t_out must be >= T=5"):
        dispatch("delay.taps", "torch", x, g, torch.zeros(3, 2, 1, dtype=torch.long), 4)


@pytest.mark.parametrize("batch", [16, 17, 40])
def test_numba_lane_layout_equals_torch_on_strided_input(batch):
    """Batches of several lane chunks (and a ragged last chunk) from a permuted time-major view."""
    gen = torch.Generator().manual_seed(batch)
    x = torch.randn(11, batch, 6, generator=gen, dtype=torch.float64).permute(1, 2, 0)  # (B, I, T) view
    g = torch.randn(5, 6, 2, 4, generator=gen, dtype=torch.float64)
    d0 = torch.randint(0, 7, (5, 6, 2), generator=gen)
    ref, fast = grads("torch", x, g, d0, 15), grads("numba", x, g, d0, 15)
    for a, b in zip(fast, ref):
        torch.testing.assert_close(a, b, **TOL[torch.float64])


@pytest.mark.parametrize("batch", [1, 16, 21])
def test_lane_layout_round_trip(batch):
    from snnlab.kernels.numba.delay import lanes_for, to_lanes

    x = torch.randn(batch, 3, 5)
    lanes = lanes_for(batch)
    packed = to_lanes(x, lanes, 2, 9)  # (NB, 3, 9 V), x at steps 2..6
    n_chunks = -(-batch // lanes)
    assert packed.shape == (n_chunks, 3, 9 * lanes)
    back = packed.view(n_chunks, 3, 9, lanes).permute(0, 3, 1, 2).reshape(n_chunks * lanes, 3, 9)
    assert not back[batch:].any()  # padding lanes are zero
    back = back[:batch]  # (B, 3, 9)
    assert torch.equal(back[:, :, 2:7], x)
    assert not back[:, :, :2].any() and not back[:, :, 7:].any()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("batch, n_s, n_m", [(37, 4, 1), (5, 3, 2), (16, 5, 1), (33, 1, 3)])
def test_numba_blocked_paths_equal_torch(dtype, batch, n_s, n_m):
    """Sizes that span several item blocks, row blocks (ragged last one) and lane chunks."""
    gen = torch.Generator().manual_seed(batch + n_s)
    x = (torch.rand(19, batch, 70, generator=gen) < 0.3).to(dtype).permute(1, 2, 0)  # (B, I, T) view
    g = torch.randn(45, 70, n_m, n_s, generator=gen, dtype=dtype)
    d0 = torch.randint(0, 12 - n_s + 1, (45, 70, n_m), generator=gen)
    ref, fast = grads("torch", x, g, d0, 24), grads("numba", x, g, d0, 24)
    for a, b in zip(fast, ref):
        torch.testing.assert_close(a, b, **TOL[dtype])


def test_delay_buffers_are_reused_between_steps():
    """Lane layouts and outputs come from the shared pool: a second step allocates nothing new."""
    from snnlab.kernels import pool

    gen = torch.Generator().manual_seed(5)
    x = torch.randn(32, 64, 160, generator=gen)  # lane layout ~1.6 MB: pooled
    g = torch.randn(64, 64, 1, 4, generator=gen)
    d0 = torch.randint(0, 20, (64, 64, 1), generator=gen)
    grads("numba", x, g, d0, 180)
    misses = pool.stats()["misses"]
    grads("numba", x, g, d0, 180)
    assert pool.stats()["misses"] == misses and pool.stats()["hits"] > 0
