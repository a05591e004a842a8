"""conv2d.binary (lookup-table convolution of {0, 1} inputs) equals torch's conv2d; SpikeConv2d routes to it."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from snnlab.kernels import dispatch
from snnlab.kernels.common import bit_conv
from snnlab.kernels.common.bit_conv import BitConvFunction
from snnlab.kernels.common.spike_conv import SpikeConvFunction
from snnlab.nn.spike_conv import PROBE_EVERY, SpikeConv2d, spike_copy


def _spikes(shape, density, dtype=torch.float64, seed=0):
    """A channels-last ``(N, C, H, W)`` of zeros and ones."""
    g = torch.Generator().manual_seed(seed)
    return (
        (torch.rand(shape, generator=g, dtype=dtype) < density).to(dtype).contiguous(memory_format=torch.channels_last)
    )


def _conv_and_grads(fn, x, weight, bias, gy):
    x, weight = x.detach().clone().requires_grad_(), weight.detach().clone().requires_grad_()
    bias = None if bias is None else bias.detach().clone().requires_grad_()
    y = fn(x, weight, bias)
    leaves = [t for t in (x, weight, bias) if t is not None]
    return y, torch.autograd.grad(y, leaves, gy)


@pytest.mark.parametrize(
    "c_in, c_out, kh, kw, bias",
    [(16, 8, 3, 3, True), (13, 5, 1, 1, False), (24, 40, 5, 3, True), (8, 3, 3, 3, False), (20, 6, 1, 1, True)],
)
@pytest.mark.parametrize("density", [0.0, 0.4, 1.0])
def test_binary_conv_equals_conv2d_float64(c_in, c_out, kh, kw, bias, density):
    torch.manual_seed(0)
    x = _spikes((3, c_in, 7, 6), density)
    weight = torch.randn(c_out, c_in, kh, kw, dtype=torch.float64)
    b = torch.randn(c_out, dtype=torch.float64) if bias else None
    gy = torch.randn(3, c_out, 7, 6, dtype=torch.float64)
    y_ref, g_ref = _conv_and_grads(lambda *a: F.conv2d(*a, padding=(kh // 2, kw // 2)), x, weight, b, gy)

    def ours(*args):
        y, measured = dispatch("conv2d.binary", "numba", *args)
        assert isinstance(y.grad_fn, BitConvFunction._backward_cls)  # the lookup tables ran
        assert measured == pytest.approx(float(x.count_nonzero()) / x.numel())
        return y

    y, g = _conv_and_grads(ours, x, weight, b, gy)
    assert y.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(y, y_ref, rtol=1e-12, atol=1e-12)
    for a, r in zip(g, g_ref):
        torch.testing.assert_close(a, r, rtol=1e-12, atol=1e-12)


def test_binary_conv_float32_and_torch_reference():
    torch.manual_seed(1)
    x = _spikes((4, 64, 8, 8), 0.34, torch.float32)
    weight = torch.randn(32, 64, 3, 3) * 0.1
    y, density = dispatch("conv2d.binary", "numba", x, weight, None)
    y_ref, density_ref = dispatch("conv2d.binary", "torch", x, weight, None)
    torch.testing.assert_close(y, F.conv2d(x, weight, padding=1), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(y_ref, F.conv2d(x, weight, padding=1), rtol=0, atol=0)
    assert density == pytest.approx(density_ref)


@pytest.mark.parametrize("k", [1, 3])
def test_binary_conv_weight_grad_only(k):
    torch.manual_seed(6)
    x = _spikes((2, 16, 5, 6), 0.5)  # no gradient wanted for x (a first layer)
    weight = torch.randn(7, 16, k, k, dtype=torch.float64, requires_grad=True)
    y, _ = dispatch("conv2d.binary", "numba", x, weight, None)
    (gw,) = torch.autograd.grad(y.square().sum(), weight)
    (gw_ref,) = torch.autograd.grad(F.conv2d(x, weight, padding=k // 2).square().sum(), weight)
    torch.testing.assert_close(gw, gw_ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("k", [1, 3])
def test_binary_conv_double_backward(k):
    torch.manual_seed(2)
    weight = torch.randn(5, 9, k, k, dtype=torch.float64)
    x = _spikes((2, 9, 5, 6), 0.5)
    grads = []
    ours = lambda x, w: dispatch("conv2d.binary", "numba", x, w, None)[0]  # noqa: E731
    for fn in (ours, lambda x, w: F.conv2d(x, w, padding=k // 2)):
        xr, w = x.clone().requires_grad_(), weight.clone().requires_grad_()
        (gx,) = torch.autograd.grad(fn(xr, w).sin().sum(), xr, create_graph=True)
        grads.append(torch.autograd.grad(gx.square().sum(), w)[0])
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("value", [0.5, 2.0, -1.0, float("nan"), float("inf")])
def test_non_binary_input_runs_torch_and_reports_no_density(value):
    torch.manual_seed(3)
    x = _spikes((2, 16, 5, 5), 0.4)
    x[1, 3, 2, 2] = value
    weight = torch.randn(4, 16, 3, 3, dtype=torch.float64)
    y, density = dispatch("conv2d.binary", "numba", x, weight, None)
    assert math.isnan(density) and not isinstance(y.grad_fn, BitConvFunction._backward_cls)
    torch.testing.assert_close(y, F.conv2d(x, weight, padding=1), rtol=0, atol=0, equal_nan=True)
    assert math.isnan(dispatch("conv2d.binary", "torch", x, weight, None)[1])


def test_negative_zero_counts_as_zero():
    x = _spikes((2, 8, 4, 4), 0.5)
    x[x == 0] = -0.0
    weight = torch.randn(3, 8, 3, 3, dtype=torch.float64)
    y, density = dispatch("conv2d.binary", "numba", x, weight, None)
    assert density == pytest.approx(float(x.count_nonzero()) / x.numel())
    torch.testing.assert_close(y, F.conv2d(x, weight, padding=1), rtol=1e-12, atol=1e-12)


def test_fallbacks_nchw_dtype_and_large_tables(monkeypatch):
    weight = torch.randn(4, 16, 3, 3, dtype=torch.float64)
    x = _spikes((2, 16, 5, 5), 0.4)
    y, density = dispatch("conv2d.binary", "numba", x.contiguous(), weight, None)  # NCHW
    assert math.isnan(density)
    torch.testing.assert_close(y, F.conv2d(x.contiguous(), weight, padding=1), rtol=0, atol=0)
    with pytest.raises(RuntimeError):  # dtypes differ: torch's error, as F.conv2d
        dispatch("conv2d.binary", "numba", x, weight.float(), None)
    pointwise = torch.randn(4, 16, 1, 1, dtype=torch.float64)
    monkeypatch.setattr(bit_conv, "MAX_TABLE_BYTES", bit_conv.table_bytes(pointwise) - 1)
    y, density = dispatch("conv2d.binary", "numba", x, pointwise, None)  # 1x1, tables too large: torch's
    assert math.isnan(density) and not isinstance(y.grad_fn, BitConvFunction._backward_cls)
    with pytest.raises(ValueError, match="odd sides"):
        dispatch("conv2d.binary", "numba", x, torch.randn(4, 16, 2, 2, dtype=torch.float64), None)


def _route(module, x):
    """The autograd node kind of ``module(x)``: lookup tables, CSR or other."""
    fn = module(x.detach().clone().requires_grad_()).grad_fn
    if isinstance(fn, BitConvFunction._backward_cls):
        return "lookup"
    return "csr" if isinstance(fn, SpikeConvFunction._backward_cls) else "other"


def test_spike_conv2d_routes_dense_spikes_to_lookup_tables_and_probes_sparse_ones():
    torch.manual_seed(4)
    conv = spike_copy(nn.Conv2d(16, 8, 3, padding=1, dtype=torch.float64), backend="numba")
    dense, sparse = _spikes((2, 16, 6, 6), 0.4), _spikes((2, 16, 6, 6), 0.05)
    assert [_route(conv, dense) for _ in range(3)] == ["lookup"] * 3
    assert _route(conv, sparse) == "lookup"  # measured 0.05: the CSR kernels from the next call
    routes = [_route(conv, sparse) for _ in range(PROBE_EVERY)]
    assert routes.count("lookup") == 1 and routes.count("csr") == PROBE_EVERY - 1  # one probe per PROBE_EVERY calls
    conv.lookup = False
    assert {_route(conv, dense) for _ in range(3)} == {"other"}  # dense without lookup: torch's convolution
    real = torch.randn(2, 16, 6, 6, dtype=torch.float64).contiguous(memory_format=torch.channels_last)
    conv.lookup, conv._lookup_route = True, True
    assert _route(conv, real) == "other" and not conv._lookup_route  # not binary: never the lookup route
    pointwise = SpikeConv2d(16, 8, 1, dtype=torch.float64, backend="numba")
    assert _route(pointwise, dense) == "lookup"
    torch.testing.assert_close(pointwise(dense), F.conv2d(dense, pointwise.weight, pointwise.bias), rtol=1e-12, atol=0)


@pytest.mark.parametrize("max_table_bytes, max_width", [(1, 64), (12 << 20, 4)])
@pytest.mark.parametrize("width", [19, 8])
def test_large_tables_or_wide_images_keep_exact_gradients(monkeypatch, max_table_bytes, max_width, width):
    """k x k with tables over the limit: torch's forward, the tables' weight gradient; images wider than
    MAX_LOOKUP_WIDTH: torch's weight gradient. Widths past one byte of pixels and not a multiple of 8."""
    monkeypatch.setattr(bit_conv, "MAX_TABLE_BYTES", max_table_bytes)
    monkeypatch.setattr(bit_conv, "MAX_LOOKUP_WIDTH", max_width)
    torch.manual_seed(7)
    x = _spikes((2, 10, 5, width), 0.35)
    weight = torch.randn(6, 10, 5, 3, dtype=torch.float64)
    b = torch.randn(6, dtype=torch.float64)
    gy = torch.randn(2, 6, 5, width, dtype=torch.float64)
    y_ref, g_ref = _conv_and_grads(lambda *a: F.conv2d(*a, padding=(2, 1)), x, weight, b, gy)

    def ours(*args):
        y, density = dispatch("conv2d.binary", "numba", *args)
        assert isinstance(y.grad_fn, BitConvFunction._backward_cls) and not math.isnan(density)
        return y

    y, g = _conv_and_grads(ours, x, weight, b, gy)
    torch.testing.assert_close(y, y_ref, rtol=1e-12, atol=1e-12)
    for a, r in zip(g, g_ref):
        torch.testing.assert_close(a, r, rtol=1e-12, atol=1e-12)
