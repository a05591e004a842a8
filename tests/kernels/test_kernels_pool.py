"""The CPU buffer pool, and the compact (broadcast) output gradients of the numba backward."""

from __future__ import annotations

import gc
import os
import subprocess
import sys

import pytest
import torch

from snnlab.functional.surrogate import ATan
from snnlab.kernels import dispatch, pool
from snnlab.kernels.common import equations as eq
from snnlab.kernels.numba import cpu

from .neuron_cases import make_inputs, make_params, op_kind

BIG = (64, 8192)  # 2 MiB in float32: pooled


def test_pool_reuses_a_freed_block_and_never_shares_a_live_one():
    p = pool.BufferPool(limit_bytes=64 * 2**20)
    a = p.empty(BIG, torch.float32)
    a.fill_(1.0)
    b = p.empty(BIG, torch.float32)  # a is alive: b must be another block
    assert a.data_ptr() != b.data_ptr() and p.stats()["misses"] == 2
    b.fill_(2.0)
    assert bool((a == 1.0).all())
    ptr = a.data_ptr()
    view = a[3:]  # a view keeps the block alive
    del a
    gc.collect()
    assert p.stats()["free_blocks"] == 0
    del view
    gc.collect()
    assert p.stats()["free_blocks"] == 1
    c = p.empty(BIG, torch.float32)
    assert c.data_ptr() == ptr and p.stats()["hits"] == 1
    assert tuple(c.shape) == BIG and c.dtype == torch.float32 and c.is_contiguous()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_pool_blocks_start_on_a_cache_line(dtype):
    p = pool.BufferPool(limit_bytes=64 * 2**20)
    blocks = [p.empty((3, 7, 1001), dtype) for _ in range(4)]  # odd byte sizes
    assert all(t.data_ptr() % 64 == 0 and t.is_contiguous() for t in blocks)
    ptr = blocks[0].data_ptr()
    del blocks
    gc.collect()
    reused = p.empty((3, 7, 1001), dtype)
    assert reused.data_ptr() % 64 == 0 and p.stats()["hits"] == 1 and ptr != 0


def test_pool_other_shapes_of_the_same_bytes_and_dtype_passthrough():
    p = pool.BufferPool(limit_bytes=64 * 2**20)
    a = p.empty(BIG, torch.float32)
    ptr = a.data_ptr()
    del a
    d = p.empty((BIG[0] // 2, BIG[1]), torch.float64)  # same byte size, other dtype and shape
    assert d.data_ptr() == ptr and d.dtype == torch.float64
    small = p.empty((10, 10), torch.float32)  # below MIN_BYTES: a plain torch tensor
    half = p.empty(BIG, torch.float16)  # not pooled dtype
    assert p.stats()["misses"] == 1 and small.shape == (10, 10) and half.dtype == torch.float16


def test_pool_limit_evicts_and_zero_disables():
    p = pool.BufferPool(limit_bytes=5 * 2**20)  # room for two 2 MiB blocks
    blocks = [p.empty(BIG, torch.float32) for _ in range(3)]
    del blocks
    gc.collect()
    assert p.stats()["free_blocks"] == 2 and p.stats()["free_bytes"] <= 5 * 2**20
    p.clear()
    assert p.stats()["free_blocks"] == 0
    off = pool.BufferPool(limit_bytes=0)
    t = off.empty(BIG, torch.float32)
    del t
    assert off.stats() == {"free_bytes": 0, "free_blocks": 0, "hits": 0, "misses": 0, "limit_bytes": 0}


def test_pool_env_var_is_read_and_a_bad_value_warns():
    code = "from snnlab.kernels import pool; print(pool.stats()['limit_bytes'])"
    env = dict(os.environ, SNNLAB_CPU_POOL_MB="3")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(3 * 2**20)
    env["SNNLAB_CPU_POOL_MB"] = "lots"
    out = subprocess.run(
        [sys.executable, "-W", "always", "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert "SNNLAB_CPU_POOL_MB must be a number" in out.stderr and int(out.stdout) > 0


def test_training_steps_reuse_pooled_outputs():
    import snnlab

    lif = snnlab.nn.LIF(tau=2.0, surrogate=ATan(2.0), backend="numba")
    x = torch.randn(40, 4, 4096, requires_grad=True)  # (T, M) = 2.5 MiB per sequence
    before = pool.stats()
    for _ in range(3):
        lif.reset()
        x.grad = None
        lif(x).sum().backward()
    after = pool.stats()
    assert after["hits"] - before["hits"] >= 4  # spikes, saved h and grad_x come back every step


def _grads(backend, kind, x, state, k, g_fn):
    p = make_params(kind)
    out, final, _ = dispatch(
        f"neuron.{op_kind(kind)}", backend, x, state, p, ATan(2.0), k=k if kind == "plif" else None
    )
    loss = g_fn(out) + sum(s.sum() * 0.3 for s in final)
    leaves = [x] + list(state) + ([k] if kind == "plif" else [])
    return torch.autograd.grad(loss, leaves)


GRADS = {
    "sum": lambda o: o.sum(),  # stride-0 gradient along units and time: G_PER_STEP
    "mean_time": lambda o: (o.mean(0) * torch.linspace(-1, 1, o.shape[1], dtype=o.dtype)).sum(),  # G_PER_UNIT
    "per_step": lambda o: (o.sum(1) * torch.arange(o.shape[0], dtype=o.dtype)).sum(),  # G_PER_STEP, varying
    "transposed": lambda o: (
        o.t().contiguous()
        * torch.randn(o.shape[1], o.shape[0], dtype=o.dtype, generator=torch.Generator().manual_seed(1))
    ).sum(),
    "strided": lambda o: (o[:, ::2] * 1.5).sum() - o[::3].sum(),  # non-contiguous: copied dense
}


@pytest.mark.parametrize("how", sorted(GRADS))
@pytest.mark.parametrize("kind", ("lif", "plif", "alif", "cuba_lif", "li"))
def test_broadcast_gradients_match_the_reference(kind, how):
    x, state, k = make_inputs(kind, 9, 33, torch.float64, seed=3)
    ref = _grads("torch", kind, x, state, k, GRADS[how])
    res = _grads("numba", kind, x, state, k, GRADS[how])
    for a, b in zip(res, ref):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_compact_grad_layouts():
    g = torch.ones(()).expand(5, 7)
    assert cpu.compact_grad(g)[0].shape == (5, 1) and cpu.compact_grad(g)[1] == eq.G_PER_STEP
    g = torch.arange(7.0).expand(5, 7)
    assert cpu.compact_grad(g)[0].shape == (1, 7) and cpu.compact_grad(g)[1] == eq.G_PER_UNIT
    g = torch.randn(7, 5).t()
    dense, mode = cpu.compact_grad(g)
    assert mode == eq.G_DENSE and dense.is_contiguous() and torch.equal(dense, g)


def test_shared_zeros_are_reused_and_stay_zero_through_training_steps():
    from snnlab.nn import LIF

    a = pool.zeros((70000,), torch.float32)
    assert pool.zeros((70000,), torch.float32) is a and not a.any()
    assert pool.zeros((70000,), torch.float64) is not a  # keyed by dtype
    small = pool.zeros((3,), torch.float32)
    assert pool.zeros((3,), torch.float32) is not small  # small ones are plain torch.zeros
    lif = LIF(backend="numba")
    x = (torch.randn(3, 70000) + 1.0).requires_grad_()
    for _ in range(2):
        lif(x).sum().backward()  # the resting state, b0 and the final-state gradients are shared zeros
    assert not pool.zeros((70000,), torch.float32).any()
    pool.clear()
    assert pool.zeros((70000,), torch.float32) is not a
