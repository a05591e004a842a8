"""Fused numba WKV kernels equal the torch reference (outputs and every gradient)."""

from __future__ import annotations

import pytest
import torch

from snnlab.kernels import get_backend
from tests.cuda_device import dispatch
from tests.functional.test_wkv import make_wkv_inputs


def run(backend, w, u, k, v, g):
    args = [t.detach().clone().requires_grad_() for t in (w, u, k, v)]
    y = dispatch("wkv", backend, *args)
    return [y.detach(), *torch.autograd.grad(y, args, g, allow_unused=True, materialize_grads=True)]


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-11), (torch.float32, 2e-4)], ids=str)
@pytest.mark.parametrize("shape", [(2, 7, 5), (3, 33, 37), (1, 1, 16), (2, 40, 101)])  # last: full + partial block
@pytest.mark.parametrize("k_scale", (1.0, 8.0))
def test_numba_equals_torch(dtype, tol, shape, k_scale):
    w, u, k, v = make_wkv_inputs(*shape, dtype=dtype, k_scale=k_scale, seed=sum(shape))
    g = torch.randn(shape, dtype=dtype, generator=torch.Generator().manual_seed(1))
    for a, b in zip(run("numba", w, u, k, v, g), run("torch", w, u, k, v, g)):
        torch.testing.assert_close(a, b, rtol=tol, atol=tol)


def test_numba_gradcheck():
    from snnlab.kernels.numba.wkv import wkv_numba

    args = [t.requires_grad_() for t in make_wkv_inputs(B=2, T=6, C=3)]
    assert torch.autograd.gradcheck(wkv_numba, args)


def test_numba_long_sequence_and_huge_keys_finite():
    w, u, k, v = make_wkv_inputs(B=2, T=4096, C=8, dtype=torch.float32, k_scale=5.0)
    k[:, ::97] = 1e3  # a few enormous keys
    k[:, 5::89] = -1e3
    g = torch.randn_like(k)
    out = run("numba", w, u, k, v, g)
    assert all(torch.isfinite(t).all() for t in out)
    with torch.no_grad():
        ref = dispatch("wkv", "torch", w, u, k, v)
    torch.testing.assert_close(out[0], ref, rtol=1e-4, atol=1e-4)


def test_auto_picks_numba_on_cpu_and_handles_empty():
    w, u, k, v = make_wkv_inputs()
    assert get_backend("auto", k, op="wkv") == "numba"
    w, u, k, v = make_wkv_inputs(T=0)
    assert dispatch("wkv", "numba", w, u, k, v).shape == (2, 0, 5)


def test_vectorised_exp_matches_libm():
    import numpy as np

    from snnlab.kernels.numba.vexp import exp_array

    x = -np.abs(np.random.default_rng(0).normal(size=5000) * 40.0)
    x[:6] = [0.0, -1e-300, -699.9, -700.1, -1e38, -0.5]
    ref = np.exp(x)
    got = exp_array(x)
    keep = x >= -699.0
    np.testing.assert_allclose(got[keep], ref[keep], rtol=3e-16 * 8, atol=0)
    assert got[3] == 0.0 and got[4] == 0.0 and got[0] == 1.0


def test_vectorised_exp_float32_within_four_ulp_and_two_near_zero():
    import numpy as np

    from snnlab.kernels.numba.vexp import exp_array

    x = -np.abs(np.random.default_rng(1).normal(size=20000) * 30.0).astype(np.float32)
    x = np.concatenate([x, -np.linspace(0.0, 1.0, 20001, dtype=np.float32)])  # dense where r sweeps its range
    x[:5] = [0.0, -1e-30, -86.9, -87.7, -1e38]
    got = exp_array(x)
    assert got.dtype == np.float32
    keep = x >= -86.0  # results stay normal
    ref = np.exp(x[keep].astype(np.float64))
    eps = np.finfo(np.float32).eps
    np.testing.assert_allclose(got[keep], ref, rtol=4 * eps, atol=0)
    near = x[keep] >= -10.0
    np.testing.assert_allclose(got[keep][near], ref[near], rtol=2 * eps, atol=0)
    assert got[3] == 0.0 and got[4] == 0.0 and got[0] == 1.0


@pytest.mark.parametrize("blocks", (1, 2, 3))
def test_numba_channel_runs_give_the_same_result(monkeypatch, blocks):
    """Tasks covering 1, 2 or 3 blocks of 64 channels (C = 165: a partial block) agree exactly."""
    from snnlab.kernels.numba import wkv as numba_wkv

    w, u, k, v = make_wkv_inputs(2, 21, 2 * numba_wkv.CB + 37, dtype=torch.float32, k_scale=4.0, seed=3)
    g = torch.randn(k.shape, generator=torch.Generator().manual_seed(4))
    monkeypatch.setattr(numba_wkv, "blocks_per_task", lambda B, C: 3)
    whole = run("numba", w, u, k, v, g)
    monkeypatch.setattr(numba_wkv, "blocks_per_task", lambda B, C: blocks)
    for a, b in zip(run("numba", w, u, k, v, g), whole):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_vectorised_full_range_exp(dtype):
    import numpy as np

    from snnlab.kernels.numba.vexp import exp_full_array

    x = (np.random.default_rng(2).normal(size=5000) * 20.0).astype(dtype)
    x[:4] = [0.0, 1.0, -1.0, 1e4]  # 1e4 overflows to inf
    got = exp_full_array(x)
    keep = np.abs(x) <= 80.0
    tol = 3 * np.finfo(dtype).eps
    np.testing.assert_allclose(got[keep], np.exp(x[keep].astype(np.float64)), rtol=tol, atol=0)
    assert got.dtype == x.dtype and got[0] == 1.0 and np.isinf(got[3])


def test_numba_pooled_checkpoints_not_shared_between_live_calls():
    """Two calls alive at once (and a third reusing freed blocks) keep their own pooled checkpoints."""
    from snnlab.kernels import pool
    from snnlab.kernels.numba import wkv as numba_wkv

    shape = (2, 64, 1000)  # checkpoints (2, 4, 3, 1000) float32: 96 KB, pooled
    assert 2 * 4 * 3 * 1000 * 4 >= pool.MIN_BYTES and numba_wkv.S == 16
    calls = []
    for seed in (5, 6, 7):
        w, u, k, v = make_wkv_inputs(*shape, dtype=torch.float32, seed=seed)
        g = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
        leaves = [t.clone().requires_grad_() for t in (w, u, k, v)]
        calls.append((leaves, g, dispatch("wkv", "numba", *leaves), run("torch", w, u, k, v, g)))
    hits = pool.stats()["hits"]
    for leaves, g, y, ref in calls[::-1]:  # backward in reverse order of the forwards
        y.backward(g)
        for got, want in zip([y.detach(), *(t.grad for t in leaves)], ref):
            torch.testing.assert_close(got, want, rtol=2e-4, atol=2e-4)
    del calls, leaves, y
    w, u, k, v = make_wkv_inputs(*shape, dtype=torch.float32, seed=8)
    g = torch.randn(shape, generator=torch.Generator().manual_seed(8))
    for got, want in zip(run("numba", w, u, k, v, g), run("torch", w, u, k, v, g)):
        torch.testing.assert_close(got, want, rtol=2e-4, atol=2e-4)
    assert pool.stats()["hits"] > hits  # the last call reused freed blocks


def test_prefetch_hints_compile_and_change_no_value():
    """``prefetch`` / ``prefetch_write`` (used by the reverse sweep) are hints: results stay exact."""
    import platform

    import numpy as np
    from numba import njit

    from snnlab.kernels.numba.memops import prefetch, prefetch_write

    @njit
    def scaled_copy(src, dst, ahead):
        for i in range(src.shape[0]):
            j = min(i + ahead, src.shape[0] - 1)
            prefetch(src, j)
            prefetch_write(dst, j)
            dst[i] = 2 * src[i]

    for dtype in (np.float32, np.float64):
        src = np.random.default_rng(0).normal(size=1000).astype(dtype)
        dst = np.zeros_like(src)
        scaled_copy(src, dst, 16)
        np.testing.assert_array_equal(dst, 2 * src)
    if platform.machine() in ("x86_64", "AMD64"):
        asm = scaled_copy.inspect_asm(scaled_copy.signatures[0])
        assert "prefetcht0" in asm and "prefetchw" in asm
