"""Cost of a Max-Former: MACs only in the first convolution, ACs elsewhere (attention included), the
paper's convention as the maxformer45 profile, and `snnlab report` on a Max-Former run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from snnlab.analysis import profile_model
from snnlab.hw import estimate, load_profile
from snnlab.models import create_model


def _model():
    torch.manual_seed(0)
    model = create_model("maxformer_cifar", dims=[8, 16, 32], depths=[1, 1, 1], heads=[2, 2, 2], img_size=16, T=2)
    return model.train()  # batch statistics: the untrained network spikes


def test_first_conv_macs_rest_acs_and_the_paper_energy():
    model = _model()
    x = model.encoder(torch.randn(3, 3, 16, 16))  # (T, B, C, H, W)
    prof = profile_model(model, x).per_inference()
    mac_layers = [layer.name for layer in prof.layers if layer.macs > 0]
    assert mac_layers == ["stem.proj.module.0"]
    attention = [layer for layer in prof.layers if layer.kind == "attention"]
    assert len(attention) == 2 and all(layer.macs == 0 for layer in attention)
    assert sum(layer.acs for layer in prof.layers) > 0
    macs, acs = sum(l.macs for l in prof.layers), sum(l.acs for l in prof.layers)
    report = estimate(prof, "maxformer45")
    assert report.total_j == pytest.approx(4.6e-12 * macs + 0.9e-12 * acs)
    assert report.total_j == pytest.approx(estimate(prof, "cmos45", method="spikformer").total_j)
    profile = load_profile("maxformer45")
    assert profile.energy["neuron_update_j"] == 0 and profile.energy["weight_read_j"] == 0


@pytest.mark.slow
def test_report_on_a_maxformer_run_says_why_it_does_not_map(tmp_path, capsys):
    from snnlab.cli import main
    from snnlab.data.idx import write_idx
    from snnlab.train import Trainer
    from snnlab.train.config import load_config

    rng = np.random.default_rng(0)
    for part in ("train", "t10k"):
        labels = (np.arange(40) % 10).astype(np.uint8)
        write_idx(tmp_path / f"{part}-images-idx3-ubyte", rng.integers(0, 256, (40, 28, 28), dtype=np.uint8))
        write_idx(tmp_path / f"{part}-labels-idx1-ubyte", labels)
    cfg = load_config(
        "experiments/fmnist_maxformer.yaml",
        [
            f"data.root={tmp_path}",
            f"run.out_dir={tmp_path / 'runs'}",
            "train.epochs=1",
            "model.T=2",
            "data.options.valid_size=10",
            "data.batch_size=10",
            "run.progress=false",
        ],
    )
    run_dir = Trainer(cfg).fit()["run_dir"]
    assert main(["eval", str(run_dir)]) == 0
    assert main(["report", str(run_dir), "--hw", "maxformer45,speck"]) == 0
    out = capsys.readouterr().out
    assert "max pooling (Embed-Max)" in out and "maxformer45" in out
    md = (tmp_path / "runs" / "fmnist_maxformer" / "report.md").read_text()
    assert "no: cannot be mapped: no NIR graph" in md
