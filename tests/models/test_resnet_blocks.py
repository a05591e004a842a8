"""spiking_resnet block kinds: membrane shortcut (MS-ResNet) and spikes after the add with an
FC-256 + LIF head (the tdBN/TET ResNet-19 the CIFAR recipe reproduces)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from snnlab.errors import ConfigError
from snnlab.models import create_model
from snnlab.models.resnet import MSBasicBlock, SpikeAfterAddBlock
from snnlab.train.config import load_config

ROOT = Path(__file__).resolve().parents[2]


def test_spike_after_add_blocks_output_spikes_and_head_has_a_spiking_hidden_layer():
    torch.manual_seed(0)
    model = create_model(
        "spiking_resnet", block="spike_after_add", stem_width=4, head_hidden=12, widths=[8, 8, 16], T=2, backend="torch"
    )
    blocks = [m for m in model.modules() if isinstance(m, SpikeAfterAddBlock)]
    assert len(blocks) == 8 and not any(isinstance(m, MSBasicBlock) for m in model.modules())
    seen = []
    blocks[0].register_forward_hook(lambda m, i, o: seen.append(o))
    out = model(torch.rand(3, 3, 32, 32) * 4)
    assert out.shape == (2, 3, 10)
    assert set(seen[0].unique().tolist()) <= {0.0, 1.0}  # spikes after the residual add
    assert model.fc_hidden.module.out_features == 12 and model.stem.module[0].out_channels == 4
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    with pytest.raises(ConfigError, match="block"):
        create_model("spiking_resnet", block="preact")


def test_cifar_recipe_is_the_tdbn_tet_resnet19():
    m = load_config(ROOT / "experiments" / "cifar10_resnet.yaml").model
    assert (m["arch"], m["block"], m["stem_width"], m["head_hidden"], m["T"]) == (
        "resnet19",
        "spike_after_add",
        64,
        256,
        4,
    )
