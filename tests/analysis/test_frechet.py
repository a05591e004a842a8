"""Offline sample-quality metrics: Frechet distance, inception-style score, the Inception FID path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from snnlab.analysis.frechet import FeatureNet, GaussianStats, frechet_distance, gaussian_stats, inception_style_score
from snnlab.analysis.inception import FIDInceptionV3, load_feature_extractor
from snnlab.errors import CheckpointError


def test_frechet_distance_matches_the_closed_form_for_diagonal_gaussians() -> None:
    a = GaussianStats(np.array([0.0, 1.0]), np.diag([4.0, 1.0]), 10)
    b = GaussianStats(np.array([1.0, 1.0]), np.diag([1.0, 9.0]), 10)
    # |mu_a - mu_b|^2 + sum (sqrt(s_a) - sqrt(s_b))^2
    assert frechet_distance(a, b) == pytest.approx(1.0 + (2 - 1) ** 2 + (1 - 3) ** 2)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_of_rotated_covariances_is_symmetric_and_positive() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(500, 6)), rng.normal(size=(400, 6)) @ rng.normal(size=(6, 6)) + 0.5
    sx, sy = gaussian_stats(x), gaussian_stats(y)
    assert frechet_distance(sx, sy) == pytest.approx(frechet_distance(sy, sx), rel=1e-8)
    assert frechet_distance(sx, sy) > 0
    # against the definition with a matrix square root from an eigen-decomposition of S_x S_y
    w, v = np.linalg.eig(sx.sigma @ sy.sigma)
    tr = float(np.real(np.sqrt(w.astype(complex))).sum())
    want = float(((sx.mu - sy.mu) ** 2).sum() + np.trace(sx.sigma) + np.trace(sy.sigma) - 2 * tr)
    assert frechet_distance(sx, sy) == pytest.approx(want, rel=1e-6)


def test_inception_style_score_bounds() -> None:
    assert inception_style_score(np.full((20, 4), 0.25))[0] == pytest.approx(1.0)
    assert inception_style_score(np.eye(4)[np.arange(40) % 4], splits=2)[0] == pytest.approx(4.0, rel=1e-6)


def test_feature_net_shapes() -> None:
    net = FeatureNet(in_channels=1, num_classes=10)
    x = torch.randn(3, 1, 16, 16)
    assert net.features(x).shape == (3, 128) and net(x).shape == (3, 10)


def test_fid_inception_has_the_pytorch_fid_layout() -> None:
    state = FIDInceptionV3().state_dict()
    assert state["fc.weight"].shape == (1008, 2048)
    assert state["Conv2d_1a_3x3.conv.weight"].shape == (32, 3, 3, 3)
    assert state["Mixed_7c.branch_pool.conv.weight"].shape == (192, 2048, 1, 1)
    assert state["Mixed_6e.branch7x7dbl_5.conv.weight"].shape == (192, 192, 1, 7)
    assert "Mixed_5b.branch_pool.bn.running_var" in state


@pytest.mark.slow
def test_fid_inception_forward_gives_2048_pool_features() -> None:
    net = FIDInceptionV3().eval()
    with torch.no_grad():
        assert net.features(torch.rand(1, 1, 16, 16) * 2 - 1).shape == (1, 2048)


class StandIn(nn.Module):
    """A small random network in the place of InceptionV3 (features + fc)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 6, 3)
        self.fc = nn.Linear(6, 5)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv(x)).mean((2, 3))


def test_inception_path_with_a_stand_in_network(tmp_path: Path) -> None:
    from PIL import Image

    from snnlab.train.diffusion_data import ImageDataConfig
    from snnlab.train.feature_net import inception_metric

    (tmp_path / "imgs").mkdir()
    for i in range(12):
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (8, 8)).astype(np.uint8)).save(
            tmp_path / "imgs" / f"{i}.png"
        )
    torch.manual_seed(0)
    weights = tmp_path / "standin.pth"
    torch.save(StandIn().state_dict(), weights)
    data = ImageDataConfig(
        name="image_folder", root=str(tmp_path / "imgs"), image_size=8, options={"channels": 1, "image_size": 8}
    )
    metric = inception_metric(weights, data, tmp_path / "cache", reference_n=40, builder=StandIn, log=lambda m: None)
    assert list((tmp_path / "cache").glob("fid-ref-*.npz"))
    real = torch.rand(30, 1, 8, 8) * 2 - 1
    out = metric.evaluate(real)
    assert set(out) == {"FID", "IS", "IS_std", "n"} and out["FID"] > 0 and out["IS"] >= 1.0
    again = inception_metric(weights, data, tmp_path / "cache", reference_n=40, builder=StandIn)
    assert np.allclose(again.reference.mu, metric.reference.mu)  # from the cache
    with pytest.raises(CheckpointError, match="do not fit"):
        inception_metric(weights, data, tmp_path / "cache", builder=FeatureNet)
    (tmp_path / "junk.pth").write_bytes(b"not a file")
    with pytest.raises(CheckpointError, match="not a readable weights file"):
        load_feature_extractor(tmp_path / "junk.pth", StandIn)
