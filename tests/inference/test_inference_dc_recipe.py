"""The CIFAR-10 Dynamic Confidence recipe as the official code trains it: per-layer LSQ scale
inits, a quantised fc output that conversion drops, fine-tuning from given weights."""

from __future__ import annotations

import pytest
import torch

from snnlab.errors import ConfigError
from snnlab.models import create_model
from snnlab.models.ann2snn import LSQQuant, OutputQuant, SpikingQuant, convert_to_snn
from snnlab.train.config import load_config


def _small(**kw):
    return create_model("qann_resnet18", num_classes=4, timesteps=3, **kw)


def test_scale_inits_and_quantised_output():
    model = _small(init_scales=[0.6, 0.3, 0.4, 0.5], quantize_output=True)
    body = list(model.body)
    assert body[2].scale.item() == pytest.approx(0.6)
    blocks = [m for m in body if hasattr(m, "act1")]
    assert len(blocks) == 8 and all(b.act1.scale.item() == pytest.approx(0.3) for b in blocks)
    assert all(b.act2.scale.item() == pytest.approx(0.4) for b in blocks)
    assert isinstance(body[-1], OutputQuant) and body[-1].scale.item() == pytest.approx(0.5)
    out = model(torch.rand(2, 3, 32, 32))  # ANN: outputs are multiples of the output scale in [0, 1.5]
    assert torch.allclose(out / 0.5, (out / 0.5).round(), atol=1e-5) and out.min() >= 0 and out.max() <= 1.5 + 1e-6
    snn = convert_to_snn(model)
    kinds = [type(m) for m in snn.body.modules()]
    assert OutputQuant not in kinds and LSQQuant not in kinds and SpikingQuant in kinds
    assert isinstance(list(snn.body)[-1], torch.nn.Identity)  # the SNN accumulates the raw fc output
    with pytest.raises(ConfigError, match="init_scales"):
        _small(init_scales=[0.6, 0.3])


def test_fine_tuning_starts_from_given_weights(tmp_path):
    source = _small()
    with torch.no_grad():
        source.body[0].weight.fill_(0.25)
    torch.save({"model": source.state_dict()}, tmp_path / "best.pt")
    tuned = _small(init_scales=[0.6, 0.3, 0.4, 0.5], quantize_output=True, pretrained=str(tmp_path / "best.pt"))
    assert torch.equal(tuned.body[0].weight, source.body[0].weight)
    torch.save({"other": torch.zeros(3)}, tmp_path / "wrong.pt")
    with pytest.raises(ConfigError, match="no tensor"):
        _small(pretrained=str(tmp_path / "wrong.pt"))
    with pytest.raises(ConfigError, match="not a file"):
        _small(pretrained=str(tmp_path / "missing.pt"))


def test_recipe_matches_the_official_main_py():
    cfg = load_config("experiments/cifar10_dc_resnet18.yaml", [])
    assert cfg.model["init_scales"] == [0.6, 0.3, 0.4, 0.5] and cfg.model["quantize_output"] is True
    assert cfg.train.epochs == 40 and cfg.data.batch_size == 32
    opt = cfg.train.optimizers[0]
    assert (opt.name, opt.lr, opt.momentum, opt.weight_decay) == ("sgd", 0.01, 0.9, 5e-4)
    assert cfg.data.valid_split == "valid"  # threshold and best.pt chosen off the test split
