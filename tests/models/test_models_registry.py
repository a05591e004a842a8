"""Registry sweep over every model: forward, backward, every parameter gets a gradient, no NaN."""

from __future__ import annotations

import pytest
import torch

from snnlab.errors import ConfigError, ShapeError
from snnlab.models import create_model, list_models, model_defaults

# Small configurations and inputs per family, (cfg, input, expected T)
CASES = {
    "mlp_snn": (
        {"in_features": 20, "hidden": [16, 8], "batch_norm": True, "dropout": 0.2},
        lambda: torch.rand(6, 3, 20) * 3,
        6,
    ),
    "conv_snn": (
        {"input_shape": [2, 16, 16], "channels": [4, 8], "kernel_size": 3, "padding": 1, "dropout": 0.1},
        lambda: (torch.rand(5, 2, 2, 16, 16) < 0.3).float() * 4,
        5,
    ),
    "spiking_resnet": ({"layers": [1, 1], "widths": [8, 16], "T": 3}, lambda: torch.randn(2, 3, 16, 16), 3),
    **{
        name: ({"n_layer": 2, "dim": 16, "ctx_len": 16}, lambda: torch.randint(0, 5, (6, 3)), 6)
        for name in ("spikegpt", "spikegpt_46m", "spikegpt_216m")
    },
    **{
        name: (
            {"dims": [8, 16, 32], "depths": [1, 1, 1], "heads": [2, 2, 2], "img_size": 16, "T": 2},
            lambda: torch.randn(2, 3, 16, 16),
            2,
        )
        for name in ("maxformer", "maxformer_cifar")
    },
    **{
        f"maxformer_10_{d}": (
            {"dim": 64, "depths": [1, 1, 1], "img_size": 32, "T": 2},
            lambda: torch.randn(2, 3, 32, 32),
            2,
        )
        for d in (384, 512, 768)
    },
    "maxformer_dvs": (
        {"dims": [16, 32], "heads": [2, 2], "img_size": 32, "T": 3},
        lambda: (torch.rand(3, 2, 2, 32, 32) < 0.3).float() * 3,
        3,
    ),
    "max_resnet18": (
        {"layers": [1, 1, 1], "widths": [8, 16, 32], "stem_width": 8, "img_size": 16, "T": 2},
        lambda: torch.randn(2, 3, 16, 16),
        2,
    ),
}


def _case(name: str):
    if name in CASES:
        return CASES[name]
    # families added by other modules: default options on an input their signature suggests;
    # their output length may differ from the input's (delays add steps), so T is not checked.
    defaults = model_defaults(name)
    if "in_features" in defaults:
        return ({"in_features": 12}, lambda: torch.rand(4, 2, 12) * 2, None)
    channels = defaults.get("in_channels", 3)
    return ({}, lambda: torch.rand(2, 2, channels, 32, 32), None)


# models that are not classifiers have their own sweep (tests/models/test_sddpm.py)
NOT_CLASSIFIERS = {"sddpm_unet"}


@pytest.mark.parametrize("name", [m for m in list_models() if m not in NOT_CLASSIFIERS])
def test_every_model_forward_backward(name: str) -> None:
    torch.manual_seed(0)
    cfg, make_input, steps = _case(name)
    model = create_model(name, num_classes=5, **cfg)
    model.train()
    x = make_input()
    out = model(x)
    batch = x.shape[1] if x.dim() != 4 else x.shape[0]
    assert out.dim() == 3 and out.shape[1:] == (batch, 5)
    assert steps is None or out.shape[0] == steps
    assert torch.isfinite(out).all()
    (out.mean(0) ** 2).sum().backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{name}: {pname} got no gradient"
        assert torch.isfinite(p.grad).all(), f"{name}: {pname} has a non-finite gradient"
    assert any(float(p.grad.abs().sum()) > 0 for p in model.parameters())
    _check_layout_guard(name, model, x, batch)


def _check_layout_guard(name: str, model: torch.nn.Module, x: torch.Tensor, batch: int) -> None:
    """Every model declares its input layout; its own input passes the batch-first guard."""
    from snnlab.models.layout import check_model_input, declared_layout

    layout, static_rank = declared_layout(model)
    assert layout is not None, f"{name} declares no input_layout"
    labels = torch.zeros(batch, dtype=torch.long)
    check_model_input(model, x, labels)  # static (B, C, H, W) images pass too
    if layout != "static" and x.dim() != static_rank and x.shape[0] != x.shape[1]:  # a time-major input
        with pytest.raises(ShapeError, match="batch-first"):
            check_model_input(model, x.transpose(0, 1), labels)


@pytest.mark.parametrize("neuron", ["lif", "if", "plif", "alif", "cuba_lif"])
@pytest.mark.parametrize("readout", ["li", "lif"])
def test_mlp_neuron_and_readout_choices(neuron: str, readout: str) -> None:
    model = create_model("mlp_snn", in_features=10, num_classes=3, hidden=[12], neuron=neuron, readout=readout, tau=3.0)
    out = model(torch.rand(5, 2, 10) * 2)
    assert out.shape == (5, 2, 3)
    if readout == "lif":
        assert set(out.unique().tolist()) <= {0.0, 1.0}


def test_classic_nmnist_conv_sizes() -> None:
    model = create_model("conv_snn")  # 12c5-MP2-64c5-MP2 on 34x34x2
    assert model.fc_out.module.in_features == 64 * 5 * 5
    assert model(torch.zeros(2, 1, 2, 34, 34)).shape == (2, 1, 10)


def test_resnet_archs_and_time_major_input() -> None:
    model = create_model("spiking_resnet", arch="resnet18", widths=[4, 4, 8, 8], T=2)
    assert [len(s) for s in model.stages] == [2, 2, 2, 2]
    assert model(torch.randn(3, 2, 3, 8, 8)).shape == (3, 2, 10)  # T taken from the input
    assert len(create_model("spiking_resnet", widths=[4, 8, 8], T=1).stages) == 3  # resnet19: [3, 3, 2]


def test_create_model_errors_name_valid_options() -> None:
    with pytest.raises(ConfigError, match="valid models: .*mlp_snn"):
        create_model("nope")
    with pytest.raises(ConfigError, match="unknown option.*'widthz'.*valid:.*hidden"):
        create_model("mlp_snn", widthz=3)
    with pytest.raises(ConfigError, match="valid: lif"):
        create_model("mlp_snn", neuron="hodgkin")
    with pytest.raises(ConfigError, match="valid: resnet18"):
        create_model("spiking_resnet", arch="resnet1000")


def test_shape_errors_are_clear() -> None:
    with pytest.raises(ShapeError, match="in_features"):
        create_model("mlp_snn", in_features=10)(torch.rand(3, 2, 11))
    with pytest.raises(ShapeError, match="input_shape"):
        create_model("conv_snn")(torch.rand(3, 2, 2, 32, 32))
    with pytest.raises(ConfigError, match="too small"):
        create_model("conv_snn", input_shape=[2, 8, 8])
