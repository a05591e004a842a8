"""Max-Former and Max-ResNet: exact parameter counts, the layers against their equations, and the
whole network against the same network on spikingjelly's LIF neurons."""

from __future__ import annotations

import pytest
import torch

from snnlab.models import create_model
from snnlab.nn import LIF
from snnlab.nn.maxformer import SSA, DWCMixer, EmbedMax, SpikingMLP, maxformer_lif

# parameter counts of the official code (bic-L/MaxFormer @6ddd4cc), computed from it
COUNTS = [
    ("maxformer_cifar", {}, 6_568_282),
    ("maxformer_cifar", {"num_classes": 100}, 6_602_932),
    ("maxformer_10_384", {}, 16_237_240),
    ("maxformer_10_512", {}, 28_653_480),
    ("maxformer_10_768", {}, 63_992_200),
    ("maxformer_dvs", {}, 1_455_626),
    ("max_resnet18", {}, 12_502_090),
]


@pytest.mark.parametrize("name, cfg, count", COUNTS)
def test_parameter_counts_equal_the_official_code(name, cfg, count):
    with torch.device("meta"):
        model = create_model(name, **cfg)
    assert sum(p.numel() for p in model.parameters()) == count


def test_neurons_are_the_official_lif():
    model = create_model("maxformer", dims=[8, 16], depths=[0, 1], mixers=["identity", "ssa"], heads=[1, 2], img_size=8)
    lifs = [m for m in model.modules() if isinstance(m, LIF)]
    ssa = next(m for m in model.modules() if isinstance(m, SSA))
    assert {(m.params.tau, m.params.v_reset, m.params.detach_reset) for m in lifs} == {(2.0, 0.0, True)}
    assert {(m.surrogate.name, m.surrogate.alpha) for m in lifs} == {("Sigmoid", 4.0)}
    assert ssa.attn_neuron.params.v_threshold == 0.5 and ssa.neuron.params.v_threshold == 1.0


def _lif(x, threshold=1.0):
    """Reference LIF over time: h = v + (x - v) / 2, spike h >= threshold, hard reset to 0."""
    v, out = torch.zeros_like(x[0]), []
    for xt in x:
        h = v + (xt - v) / 2
        s = (h >= threshold).float()
        out.append(s)
        v = h * (1 - s)
    return torch.stack(out)


def _bn_conv(td, x):
    T, B = x.shape[:2]
    return td.module(x.flatten(0, 1)).reshape(T, B, *td.module(x.flatten(0, 1)).shape[1:])


def test_ssa_equals_linear_attention_per_head():
    torch.manual_seed(0)
    ssa = SSA(8, num_heads=2).eval()
    for bn in (ssa.qkv.module[1], ssa.proj.module[1]):
        bn.running_mean.uniform_(-0.2, 0.2)
        bn.running_var.uniform_(0.5, 1.5)
    x = torch.randn(3, 2, 8, 3, 3) * 2  # (T, B, C, H, W)
    q, k, v = _lif(_bn_conv(ssa.qkv, _lif(x))).flatten(3).chunk(3, dim=2)  # each (T, B, C, N)
    heads = []
    for h in range(2):
        qh, kh, vh = (t[:, :, 4 * h : 4 * h + 4].transpose(-1, -2) for t in (q, k, v))  # (T, B, N, d)
        heads.append(((qh @ kh.transpose(-1, -2)) @ vh * 0.125).transpose(-1, -2))  # (T, B, d, N)
    a = _lif(torch.cat(heads, dim=2).reshape(3, 2, 8, 3, 3), threshold=0.5)
    expected = x + _bn_conv(ssa.proj, a)
    torch.testing.assert_close(ssa(x), expected)


def test_dwc_mlp_and_embed_max_follow_their_equations():
    torch.manual_seed(1)
    x = torch.randn(2, 3, 4, 8, 8) * 2
    dwc = DWCMixer(4, 5).eval()
    assert dwc.conv.module[0].groups == 4 and dwc.conv.module[0].bias is not None
    torch.testing.assert_close(dwc(x), x + _bn_conv(dwc.conv, _lif(x)))
    mlp = SpikingMLP(4, 4.0).eval()
    torch.testing.assert_close(mlp(x), x + _bn_conv(mlp.fc2, _lif(_bn_conv(mlp.fc1, _lif(x)))))
    flat = SpikingMLP(4, 1.0).eval()  # hidden = dim: the inner residual of the official code
    h = x + _bn_conv(flat.fc1, _lif(x))
    torch.testing.assert_close(flat(x), h + _bn_conv(flat.fc2, _lif(h)))
    emb = EmbedMax(4, 6).eval()
    s = _lif(x)
    pooled = _bn_conv(emb.embed1.conv, s)
    assert pooled.shape == (2, 3, 6, 4, 4)
    torch.testing.assert_close(emb(x), _bn_conv(emb.embed2.conv, _lif(pooled)) + _bn_conv(emb.shortcut, s))


def test_stage_resolutions_and_time_major_events():
    model = create_model("maxformer_cifar", dims=[8, 16, 32], depths=[1, 1, 1], heads=[2, 2, 2], T=3)
    shapes = []
    for stage in model.stages:
        stage.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape)))
    assert model(torch.randn(2, 3, 32, 32)).shape == (3, 2, 10)
    assert shapes == [(3, 2, 8, 32, 32), (3, 2, 16, 16, 16), (3, 2, 32, 8, 8)]
    dvs = create_model("maxformer_dvs", dims=[16, 32], heads=[2, 2], img_size=64, T=5)
    assert dvs(torch.rand(5, 2, 2, 64, 64)).shape == (5, 2, 10)


def test_max_resnet_downsamples_by_max_pooling():
    model = create_model("max_resnet18", layers=[1, 1, 1], widths=[8, 16, 32], stem_width=4, img_size=16, T=2)
    block = model.stages[1][0]
    assert isinstance(block.conv1.module[2], torch.nn.MaxPool2d) and block.conv1.module[0].stride == (1, 1)
    assert block.shortcut.module[0].stride == (2, 2) and len(model.stages[0][0].conv1.module) == 2
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 2, 10)


@pytest.mark.peers
@pytest.mark.parametrize("spike_kernels, dtype", [(False, torch.float32), (True, torch.float64)])
def test_whole_network_equals_spikingjelly_neurons(spike_kernels, dtype):
    """With snnlab's spike kernels (another summation order than torch's convolution and batch norm)
    a float32 rounding can flip a spike at the threshold, so that case is compared in float64."""
    from spikingjelly.activation_based import functional

    from snnlab.nn.peers import spikingjelly_twin
    from snnlab.nn.spike_conv import BatchNorm2d, SpikeConv2d

    torch.manual_seed(2)
    cfg = dict(dims=[8, 16, 32], depths=[1, 1, 1], heads=[2, 2, 2], img_size=16, T=3)
    ours = create_model("maxformer_cifar", **cfg, spike_kernels=spike_kernels).to(dtype)
    peer = spikingjelly_twin(ours)
    assert not {SpikeConv2d, BatchNorm2d} & {type(m) for m in peer.modules()}  # the peer runs torch's layers
    x = torch.randn(4, 3, 16, 16, dtype=dtype)
    out_a, out_b = ours(x), peer(x)
    functional.reset_net(peer)
    torch.testing.assert_close(out_a, out_b, rtol=1e-5, atol=1e-5)
    out_a.square().sum().backward()
    out_b.square().sum().backward()
    # a bias right before batch norm has a zero gradient up to rounding: atol from the largest gradient
    atol = 1e-5 * max(float(p.grad.abs().max()) for p in peer.parameters())
    for (name, pa), pb in zip(ours.named_parameters(), peer.parameters()):
        torch.testing.assert_close(pa.grad, pb.grad, rtol=1e-4, atol=atol, msg=name)
    assert maxformer_lif().surrogate.name == "Sigmoid"


@pytest.mark.peers
def test_spikingjelly_twin_keeps_the_original_and_rejects_unknown_surrogates():
    from spikingjelly.activation_based import neuron

    from snnlab.functional.surrogate import Triangle
    from snnlab.nn.peers import spikingjelly_twin

    model = torch.nn.Sequential(torch.nn.Linear(3, 4), LIF(tau=2.0))
    twin = spikingjelly_twin(model)
    assert isinstance(model[1], LIF) and isinstance(twin[1], neuron.LIFNode) and twin[1].step_mode == "m"
    with pytest.raises(ValueError, match="Triangle has no spikingjelly twin"):
        spikingjelly_twin(torch.nn.Sequential(LIF(tau=2.0, surrogate=Triangle())))


def test_channels_last_activations_give_the_same_values_and_gradients():
    torch.manual_seed(3)
    cfg = dict(dims=[8, 16, 32], depths=[1, 1, 1], heads=[2, 2, 2], img_size=16, T=3)
    fast = create_model("maxformer_cifar", **cfg)
    plain = create_model("maxformer_cifar", **cfg)
    plain.load_state_dict(fast.state_dict())
    plain.channels_last = False
    assert fast.channels_last
    strides = []
    fast.stages[1].register_forward_hook(lambda m, i, o: strides.append(o.stride()))
    layouts = []  # the plain model's convolutions and batch norms (SSA included) see contiguous NCHW maps
    for m in plain.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.BatchNorm2d)):
            m.register_forward_hook(lambda m, i, o: layouts.append(i[0].is_contiguous() and o.is_contiguous()))
    x = torch.randn(4, 3, 16, 16)
    out_a, out_b = fast(x), plain(x)
    assert strides[0][2] == 1  # (T, B, C, H, W) with the channels innermost
    assert len(layouts) > 20 and all(layouts)
    torch.testing.assert_close(out_a, out_b, rtol=1e-5, atol=1e-5)
    out_a.square().sum().backward()
    out_b.square().sum().backward()
    atol = 1e-5 * max(float(p.grad.abs().max()) for p in plain.parameters())
    for (name, pa), pb in zip(fast.named_parameters(), plain.parameters()):
        torch.testing.assert_close(pa.grad, pb.grad, rtol=1e-4, atol=atol, msg=name)
