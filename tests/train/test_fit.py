"""The shared loop for in-memory fits: one permutation per epoch, reproducible, learns."""

from __future__ import annotations

import torch
from torch import nn

from snnlab.train.config import OptimizerConfig, SchedulerConfig
from snnlab.train.fit import PermutationSampler, fit, logits_loss


def test_permutation_sampler_draws_one_permutation_per_epoch():
    gen, ref = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    sampler = PermutationSampler(7, gen)
    epochs = [list(sampler), list(sampler)]
    assert epochs == [torch.randperm(7, generator=ref).tolist(), torch.randperm(7, generator=ref).tolist()]
    assert sorted(epochs[0]) == list(range(7)) and len(sampler) == 7


def _blobs_fit(seed: int) -> tuple[nn.Module, list[dict[str, float]]]:
    torch.manual_seed(seed)
    y = torch.arange(120) % 3
    x = torch.randn(120, 5) + 4.0 * nn.functional.one_hot(y, 5).float()
    model = nn.Linear(5, 3)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, y),
        batch_size=16,
        sampler=PermutationSampler(120, torch.Generator().manual_seed(seed)),
    )
    sched = SchedulerConfig(name="cosine", interval="batch")
    return model, fit(model, loader, logits_loss, OptimizerConfig(lr=5e-2, scheduler=sched), epochs=4)


def test_fit_learns_and_is_reproducible():
    model, history = _blobs_fit(0)
    again, history_again = _blobs_fit(0)
    assert [r["epoch"] for r in history] == [1, 2, 3, 4]
    assert history[-1]["train_loss"] < history[0]["train_loss"] and history[-1]["train_acc"] > 0.95
    assert torch.equal(model.weight, again.weight)
    assert [r["train_loss"] for r in history] == [r["train_loss"] for r in history_again]
