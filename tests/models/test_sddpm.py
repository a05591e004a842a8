"""Spiking UNet of SDDPM/SDM: exact sizes of the official configuration, blocks, TSM, threshold guidance."""

from __future__ import annotations

import pytest
import torch

from snnlab import nn as snn
from snnlab.errors import CheckpointError, ConfigError, ShapeError
from snnlab.models import create_model
from snnlab.models.sddpm import count_parameters, load_sddpm_weights
from snnlab.nn.unet import OutputHead, StepConv2d, sinusoid_table

TINY = dict(in_channels=1, image_size=8, ch=4, ch_mult=[1, 2], num_res_blocks=1, T=3, diffusion_steps=50)


def _tiny(**kw) -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model("sddpm_unet", **{**TINY, **kw})


def test_official_cifar_config_has_the_published_parameter_count() -> None:
    model = create_model("sddpm_unet")  # ch 128, [1, 2, 2, 4], 2 res blocks, T 4, 32 px
    n = count_parameters(model)
    assert n == 66_696_413
    assert f"{n / 1024**2:.2f}M" == "63.61M"  # how the paper prints it
    assert model.add_tsm() == 268 and count_parameters(model) == n + 268
    assert not any(isinstance(m, torch.nn.MultiheadAttention) for m in model.modules())
    assert all(m.params.v_threshold == 1.0 and m.params.v_reset == 0.0 for m in model.neurons())


def test_forward_backward_every_trainable_parameter_gets_a_gradient() -> None:
    model = _tiny(tsm=True)
    x, t = torch.randn(2, 1, 8, 8), torch.tensor([3, 40])
    eps = model(x, t)
    assert eps.shape == x.shape and torch.isfinite(eps).all()
    eps.pow(2).mean().backward()
    for name, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert not model.time_embedding.table.weight.requires_grad  # the sinusoid table is frozen


def test_neurons_are_snnlab_if_through_the_kernel_registry() -> None:
    model = _tiny()
    neurons = model.neurons()
    assert neurons and all(type(m) is snn.IF for m in neurons)
    assert len(neurons) == 1 + 2 * (2 + 2 + 4) + 1 + 1  # stem, 2 per res block (2 down, 2 middle, 4 up), down, up
    assert not _tiny(spiking=False).neurons()


def test_sinusoid_table_interleaves_sin_and_cos() -> None:
    table = sinusoid_table(10, 4)
    t = torch.arange(10).float()
    assert torch.allclose(table[:, 0], torch.sin(t)) and torch.allclose(table[:, 1], torch.cos(t))
    assert torch.allclose(table[:, 2], torch.sin(t / 100.0)) and torch.allclose(table[:, 3], torch.cos(t / 100.0))


def test_tsm_scales_each_step_of_the_convolution() -> None:
    conv = StepConv2d(2, 3, 3, T=4, tsm=True)
    with torch.no_grad():
        conv.p.copy_(torch.tensor([1.0, 0.5, -2.0, 0.0]))
    x = torch.randn(4, 2, 2, 5, 5)
    y = conv(x)
    for t, p in enumerate([1.0, 0.5, -2.0, 0.0]):
        assert torch.allclose(y[t], p * conv.conv(x[t]), atol=1e-6)


def test_output_head_weights_steps_by_powers_of_0_8() -> None:
    head = OutputHead(c_in=2, c_img=1, T=3, tsm=False).eval()
    x = torch.randn(3, 2, 2, 4, 4)
    h = head.conv(head.swish(head.bn(x)))
    r = head.conv3d(h.permute(1, 2, 3, 4, 0)).permute(4, 0, 1, 2, 3)
    h = h + head.swish(head.bn3d(r.contiguous()))
    want = 0.64 * h[0] + 0.8 * h[1] + h[2]
    assert torch.allclose(head(x), want, atol=1e-6)


def test_conv3d_mixes_space_only_not_time() -> None:
    head = OutputHead(c_in=2, c_img=1, T=3, tsm=False)
    assert head.conv3d.kernel_size == (3, 3, 1)


def test_tsm_finetuning_starts_from_the_sddpm_function() -> None:
    base = _tiny().eval()
    tsm = _tiny(tsm=True).eval()
    added = load_sddpm_weights(tsm, base.state_dict(), "base")
    assert added and all(k.endswith(".p") for k in added)
    x, t = torch.randn(2, 1, 8, 8), torch.tensor([0, 49])
    assert torch.allclose(tsm(x, t), base(x, t), atol=1e-6)  # p = 1 leaves the network unchanged


def test_loading_weights_of_another_model_is_a_one_line_error() -> None:
    model = _tiny()
    with pytest.raises(CheckpointError, match="do not fit"):
        load_sddpm_weights(model, {"fc.weight": torch.zeros(2, 2)}, "other.pt")
    wrong = _tiny(ch=6).state_dict()
    with pytest.raises(CheckpointError, match="shape"):
        load_sddpm_weights(model, wrong, "wider.pt")


def test_threshold_guidance_scales_every_threshold_and_restores_it() -> None:
    model = _tiny().eval()
    x, t = torch.randn(2, 1, 8, 8) * 3, torch.tensor([5, 5])
    base = model(x, t)
    with model.threshold_scale(0.5):
        assert all(m.params.v_threshold == 0.5 for m in model.neurons())
        guided = model(x, t)
    assert all(m.params.v_threshold == 1.0 for m in model.neurons())
    assert not torch.allclose(base, guided)
    assert torch.equal(model(x, t), base)
    with pytest.raises(ConfigError, match="> 0"):
        with model.threshold_scale(0.0):
            pass


def test_bad_sizes_and_inputs_name_what_is_valid() -> None:
    with pytest.raises(ConfigError, match="divisible by 2\\^\\(levels-1\\) = 4"):
        create_model("sddpm_unet", image_size=30, ch_mult=[1, 2, 2])
    with pytest.raises(ConfigError, match="v_threshold"):
        create_model("sddpm_unet", **{**TINY, "v_threshold": 0.0})
    with pytest.raises(ShapeError, match="expected images"):
        _tiny()(torch.randn(2, 3, 8, 8), torch.tensor([0, 1]))


@pytest.mark.peers
def test_same_network_on_spikingjelly_ifnode_gives_the_same_eps_and_gradients() -> None:
    from spikingjelly.activation_based import neuron, surrogate

    class SJIF(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.node = neuron.IFNode(v_threshold=1.0, v_reset=0.0, surrogate_function=surrogate.ATan(), step_mode="m")

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.node.reset()
            return self.node(x)

    ours = _tiny().double()
    peer = _tiny().double()
    for name, m in list(peer.named_modules()):
        if isinstance(m, snn.IF):
            parent = peer.get_submodule(name.rsplit(".", 1)[0]) if "." in name else peer
            setattr(parent, name.rsplit(".", 1)[-1], SJIF())
    x, t = torch.randn(3, 1, 8, 8, dtype=torch.float64) * 2, torch.tensor([1, 20, 45])
    a, b = ours(x, t), peer(x, t)
    assert torch.allclose(a, b, atol=1e-10)
    a.sum().backward()
    b.sum().backward()
    ga = dict(ours.named_parameters())
    for name, p in peer.named_parameters():
        if p.requires_grad:
            assert torch.allclose(ga[name].grad, p.grad, atol=1e-8), name
