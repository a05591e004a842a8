"""SpikeConv2d and BatchNorm2d on channels-last activations equal torch's Conv2d and BatchNorm2d."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from snnlab.models import create_model
from snnlab.nn.spike_conv import BatchNorm2d, MaxPool2d, SpikeConv2d, pixel_rows, plain_copy, replace_layers, spike_copy


def _spikes(shape, density, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(shape, generator=g, dtype=dtype) < density).to(dtype)
    return x.contiguous(memory_format=torch.channels_last)


def _grads(module, x, gy):
    x = x.detach().clone().requires_grad_()
    y = module(x)
    y.backward(gy)
    return y, x.grad, [p.grad.clone() for p in module.parameters()]


@pytest.mark.parametrize("backend", ["numba", "torch"])
@pytest.mark.parametrize("max_density", [1.0, 0.0])  # sparse kernels / dense GEMM
@pytest.mark.parametrize("bias, stride", [(True, 1), (False, 1), (True, 2), (False, 4)])
def test_pointwise_conv_on_spikes_equals_torch(backend, max_density, bias, stride):
    torch.manual_seed(0)
    ref = nn.Conv2d(12, 7, 1, stride=stride, bias=bias, dtype=torch.float64)
    ours = spike_copy(ref, backend=backend)
    ours.max_density = max_density
    assert isinstance(ours, SpikeConv2d) and ours.pointwise
    x = _spikes((6, 12, 5, 4), 0.2)
    gy = torch.randn(6, 7, -(-5 // stride), -(-4 // stride), dtype=torch.float64)
    y, gx, gp = _grads(ours, x, gy)
    y_ref, gx_ref, gp_ref = _grads(ref.to(memory_format=torch.channels_last), x.contiguous(), gy)
    assert y.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(y, y_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(gx, gx_ref, rtol=1e-12, atol=1e-12)
    for a, b in zip(gp, gp_ref):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_pointwise_conv_float32_and_fallbacks():
    torch.manual_seed(1)
    ref = nn.Conv2d(16, 8, 1)
    ours = spike_copy(ref)
    x = _spikes((4, 16, 6, 6), 0.1, torch.float32)
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-5, atol=1e-5)
    nchw = x.contiguous()  # not channels-last: torch's own convolution
    assert pixel_rows(nchw) is None
    torch.testing.assert_close(ours(nchw), ref(nchw))
    others = (
        nn.Conv2d(4, 4, 3),  # not same-padded
        nn.Conv2d(4, 4, 3, padding=1, stride=2),
        nn.Conv2d(4, 4, 3, padding=1, groups=2),
        nn.Conv2d(4, 4, 3, padding=2, dilation=2),
        nn.Conv2d(4, 4, 3, padding="same"),
        nn.Conv2d(4, 4, 2, padding=1),  # even kernel
        nn.Conv2d(4, 4, 1, padding=1),
        nn.Conv2d(4, 4, 1, groups=2),
    )
    for conv in others:  # only 1x1 without padding and same-padded stride-1 odd kernels change
        assert spike_copy(conv) is conv


@pytest.mark.parametrize("backend", ["numba", "torch"])
@pytest.mark.parametrize("max_density", [1.0, 0.0])  # sparse kernels / torch's convolution
@pytest.mark.parametrize("k, bias, density", [(3, False, 0.2), (3, True, 0.05), ((5, 3), True, 0.3), (3, True, 0.0)])
def test_spatial_conv_on_spikes_equals_torch(backend, max_density, k, bias, density):
    torch.manual_seed(4)
    kh, kw = (k, k) if isinstance(k, int) else k
    ref = nn.Conv2d(6, 9, (kh, kw), padding=(kh // 2, kw // 2), bias=bias, dtype=torch.float64)
    ours = spike_copy(ref, backend=backend)
    ours.max_density = max_density
    assert isinstance(ours, SpikeConv2d) and ours.spatial and not ours.pointwise
    x = _spikes((3, 6, 7, 5), density) * torch.randint(1, 3, (3, 6, 7, 5), dtype=torch.float64)  # counts too
    gy = torch.randn(3, 9, 7, 5, dtype=torch.float64)
    y, gx, gp = _grads(ours, x, gy)
    y_ref, gx_ref, gp_ref = _grads(ref, x.contiguous(), gy)
    assert y.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(y, y_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(gx, gx_ref, rtol=1e-12, atol=1e-12)
    for a, b in zip(gp, gp_ref):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_spatial_conv_sparse_path_float32_and_double_backward():
    from snnlab.kernels.common.spike_conv import SpikeConvFunction

    torch.manual_seed(5)
    ref = nn.Conv2d(8, 16, 3, padding=1, bias=False)
    ours = spike_copy(ref, backend="numba")
    x = _spikes((4, 8, 9, 9), 0.1, torch.float32).requires_grad_()
    ours(x)  # the first call measures the density (a conv2d.binary probe): 0.1, the CSR route from here
    y = ours(x)
    assert isinstance(y.grad_fn, SpikeConvFunction._backward_cls)  # the CSR path ran
    torch.testing.assert_close(y, ref(x), rtol=1e-5, atol=1e-5)
    x64 = _spikes((2, 8, 5, 6), 0.2).requires_grad_()
    ours64, ref64 = spike_copy(ref.double(), backend="numba"), ref.double()
    for m in (ours64, ref64):  # the input gradient is differentiable (create_graph)
        (gx,) = torch.autograd.grad(m(x64).sin().sum(), x64, create_graph=True)
        gx.square().sum().backward()
    torch.testing.assert_close(ours64.weight.grad, ref64.weight.grad, rtol=1e-10, atol=1e-12)
    dense = _spikes((2, 8, 5, 6), 0.9, torch.float32)
    assert ours(dense).grad_fn is None or not isinstance(ours(dense).grad_fn, SpikeConvFunction._backward_cls)


@pytest.mark.parametrize("momentum", [0.1, None])
def test_batch_norm_2d_on_rows_equals_torch(momentum):
    torch.manual_seed(2)
    ref = nn.BatchNorm2d(6, momentum=momentum, dtype=torch.float64)
    with torch.no_grad():
        ref.weight.uniform_(0.5, 1.5)
        ref.bias.uniform_(-1, 1)
    ours = spike_copy(ref, backend="numba")
    assert isinstance(ours, BatchNorm2d)
    x = (torch.randn(5, 6, 4, 3, dtype=torch.float64) * 3 + 1).contiguous(memory_format=torch.channels_last)
    gy = torch.randn(5, 6, 4, 3, dtype=torch.float64)
    for _ in range(2):  # running statistics over two steps
        y, gx, gp = _grads(ours, x, gy)
        y_ref, gx_ref, gp_ref = _grads(ref, x, gy)
        torch.testing.assert_close(y, y_ref, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(gx, gx_ref, rtol=1e-10, atol=1e-10)
        for a, b in zip(gp, gp_ref):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
        ours.zero_grad(), ref.zero_grad()
    for key, value in ref.state_dict().items():
        torch.testing.assert_close(ours.state_dict()[key], value, rtol=1e-12, atol=1e-12, msg=key)
    ours.eval(), ref.eval()
    torch.testing.assert_close(ours(x), ref(x))


def test_plain_copy_restores_torch_layers_with_the_same_state():
    model = nn.Sequential(nn.Conv2d(3, 5, 1), nn.BatchNorm2d(5), nn.Conv2d(5, 5, 3))
    fast = replace_layers(nn.Sequential(*model), spike_copy)
    assert [type(m) for m in fast] == [SpikeConv2d, BatchNorm2d, nn.Conv2d]
    plain = replace_layers(nn.Sequential(*fast), plain_copy)
    assert [type(m) for m in plain] == [nn.Conv2d, nn.BatchNorm2d, nn.Conv2d]
    for a, b in zip(model.state_dict().values(), plain.state_dict().values()):
        assert torch.equal(a, b)


def test_maxformer_spike_kernels_are_the_default_and_exact(monkeypatch):
    import snnlab.nn.maxformer as layers

    fused_calls = []
    fused = layers.batch_norm_neuron
    monkeypatch.setattr(layers, "batch_norm_neuron", lambda *a: fused_calls.append(1) or fused(*a))
    cfg = dict(dims=[8, 16, 32], depths=[1, 1, 1], heads=[2, 2, 2], img_size=16, T=3)
    models = []
    for on in (True, False):
        torch.manual_seed(3)
        models.append(create_model("maxformer_cifar", **cfg, spike_kernels=on).double())
    fast, plain = models
    kinds = {type(m) for m in fast.modules()}
    assert SpikeConv2d in kinds and BatchNorm2d in kinds
    assert fast.stages[1][0].embed1.conv.module[0].spatial  # the 3x3 embeddings run on spikes too
    assert not {SpikeConv2d, BatchNorm2d} & {type(m) for m in plain.modules()}
    assert create_model("maxformer_cifar", **cfg).stages[2][1].mlp.fc2.module[0].max_density > 0
    x = torch.randn(4, 3, 16, 16, dtype=torch.float64)
    out_a, out_b = fast(x), plain(x)
    assert len(fused_calls) == 5  # BN -> LIF fused: stem, the fc1 of 3 MLPs, the qkv of 1 SSA
    torch.testing.assert_close(out_a, out_b, rtol=1e-10, atol=1e-10)
    out_a.square().sum().backward()
    out_b.square().sum().backward()
    for (name, pa), pb in zip(fast.named_parameters(), plain.parameters()):
        torch.testing.assert_close(pa.grad, pb.grad, rtol=1e-8, atol=1e-10, msg=name)


@pytest.mark.parametrize("name", ["maxformer_10_384", "maxformer_dvs"])
def test_every_maxformer_factory_takes_the_switch(name):
    small = dict(dim=64, depths=[1, 1, 1]) if name != "maxformer_dvs" else dict(dims=[16, 32], heads=[2, 2])
    off = create_model(name, **small, spike_kernels=False)
    on = create_model(name, **small)
    assert not {SpikeConv2d, BatchNorm2d} & {type(m) for m in off.modules()}
    assert SpikeConv2d in {type(m) for m in on.modules()}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("k, s, p", [(3, 2, 1), (2, 2, 0), (3, 1, 1), (3, 2, 0), (5, 3, 2)])
def test_max_pool_equals_torch_with_its_argmax_and_routing(dtype, k, s, p):
    ref = nn.MaxPool2d(k, s, p)
    ours = spike_copy(ref, backend="numba")
    assert isinstance(ours, MaxPool2d) and type(plain_copy(ours)) is nn.MaxPool2d
    g = torch.Generator().manual_seed(6)
    x = torch.randn(3, 5, 9, 8, generator=g, dtype=dtype)
    x[0, :, :4, :4] = 1.0  # ties: the first maximum in window order wins
    x[1, 2, 3, 3] = x[1, 2, 3, 4] = float("nan")  # a NaN wins, the later one
    x[2, 1] = float("-inf")  # a window of -inf keeps its first position
    x = x.contiguous(memory_format=torch.channels_last)
    results = []
    for m in (ours, ref):
        xx = x.clone().requires_grad_()
        y = m(xx)
        y.backward(torch.arange(y.numel(), dtype=dtype).view_as(y))  # distinct gradients expose the routing
        results.append((y, xx.grad))
    (y, gx), (y_ref, gx_ref) = results
    assert y.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(y.nan_to_num(), y_ref.nan_to_num()) and torch.equal(y.isnan(), y_ref.isnan())
    assert torch.equal(gx, gx_ref)  # overlapping windows add in torch's order: bit-identical


def test_max_pool_double_backward_and_fallbacks():
    ours = MaxPool2d(3, 2, 1, backend="numba")
    x = torch.randn(2, 4, 7, 7, dtype=torch.float64).contiguous(memory_format=torch.channels_last).requires_grad_()
    grads = []
    for f in (ours, lambda t: torch.nn.functional.max_pool2d(t, 3, 2, 1)):
        gy = torch.ones(2, 4, 4, 4, dtype=torch.float64, requires_grad=True)
        (gx,) = torch.autograd.grad(f(x), x, gy, create_graph=True)
        grads.append(torch.autograd.grad((gx * x).sum(), gy)[0])
    torch.testing.assert_close(grads[0], grads[1])
    nchw = x.detach().contiguous()
    torch.testing.assert_close(ours(nchw), torch.nn.functional.max_pool2d(nchw, 3, 2, 1))
    for pool in (nn.MaxPool2d(3, 2, 1, ceil_mode=True), nn.MaxPool2d(3, 2, 1, dilation=2), nn.MaxPool2d((3, 2))):
        assert spike_copy(pool) is pool
