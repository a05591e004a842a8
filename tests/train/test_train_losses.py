"""Losses on per-step outputs: mean, DCLS sum of softmaxes, last step."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from snnlab.errors import ConfigError, ShapeError
from snnlab.train.losses import OutputLoss


def test_mean_is_ce_of_time_average() -> None:
    out, y = torch.randn(7, 4, 5), torch.tensor([0, 1, 2, 3])
    loss, scores = OutputLoss("mean")(out, y)
    assert torch.allclose(loss, F.cross_entropy(out.mean(0), y))
    assert torch.equal(scores, out.mean(0))


def test_sum_softmax_matches_dcls_formula() -> None:
    out, y = torch.randn(6, 3, 4, dtype=torch.float64), torch.tensor([3, 0, 1])
    loss, scores = OutputLoss("sum_softmax")(out, y)
    m = sum(torch.softmax(out[t].float(), dim=1) for t in range(out.shape[0]))  # (B, C)
    expected = -(torch.log_softmax(m, dim=1)[torch.arange(3), y]).mean()
    assert torch.allclose(loss, expected, atol=1e-6)
    assert torch.allclose(scores.sum(1), torch.full((3,), 6.0))  # T probabilities summed


def test_last_uses_final_step_only() -> None:
    out, y = torch.randn(5, 2, 3), torch.tensor([1, 2])
    perturbed = out.clone()
    perturbed[:-1] += 100.0
    assert torch.allclose(OutputLoss("last")(out, y)[0], OutputLoss("last")(perturbed, y)[0])


def test_invalid_loss_and_shape() -> None:
    with pytest.raises(ConfigError, match="valid: mean, sum_softmax, last"):
        OutputLoss("hinge")
    with pytest.raises(ShapeError, match=r"\(T, B, classes\)"):
        OutputLoss()(torch.randn(4, 3), torch.tensor([0, 1, 2, 0]))
