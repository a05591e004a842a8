"""SpikeGPT: parameter counts of the paper's sizes, parallel == recurrent, the rescale caveat."""

from __future__ import annotations

import pytest
import torch

from snnlab.errors import ConfigError, ShapeError
from snnlab.models import create_model


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name,count", [("spikegpt_46m", 46_553_088), ("spikegpt_216m", 215_399_424)])
def test_paper_sizes_have_the_official_parameter_counts(name, count):
    with torch.device("meta"):
        model = create_model(name)
    assert n_params(model) == count


def test_every_size_is_a_keyword():
    with torch.device("meta"):
        model = create_model("spikegpt_46m", n_layer=2, dim=64, vocab_size=100, ctx_len=32)
    assert (len(model.blocks), model.dim, model.vocab_size, model.ctx_len) == (2, 64, 100, 32)
    assert n_params(model) == 2 * 13 * 64 * 64 + 2 * 100 * 64 + 2 * 11 * 64 + 4 * 64


def _spiky(n_layer, seed=0, **kw):
    """A float64 model whose branches fire (weights scaled up so LIF inputs cross threshold)."""
    torch.manual_seed(seed)
    model = create_model("spikegpt", vocab_size=11, n_layer=n_layer, dim=16, ctx_len=32, backend="torch", **kw)
    model = model.double().eval()
    with torch.no_grad():
        for block in model.blocks:
            block.att.output.weight.mul_(8.0)
            block.ffn.value.weight.mul_(8.0)
    return model


def _recurrent(model, idx):
    state, out = None, []
    for t in range(idx.shape[0]):
        logits, state = model.step(idx[t], state)
        out.append(logits)
    return torch.stack(out)


@pytest.mark.parametrize("n_layer", [1, 2, 3, 6, 7, 12])
def test_parallel_and_recurrent_logits_agree(n_layer):
    model = _spiky(n_layer)
    idx = torch.randint(0, 11, (10, 3), generator=torch.Generator().manual_seed(n_layer))
    spikes = []
    hooks = [b.lif_att.register_forward_hook(lambda m, i, o: spikes.append(o.sum())) for b in model.blocks]
    with torch.no_grad():
        parallel = model(idx)
        recurrent = _recurrent(model, idx)
    for h in hooks:
        h.remove()
    assert float(sum(spikes)) > 0  # the LIFs did fire: the equivalence is not vacuous
    torch.testing.assert_close(recurrent, parallel, rtol=1e-5, atol=1e-5)


def test_parallel_backends_agree_and_train():
    model = _spiky(2)
    idx = torch.randint(0, 11, (8, 2), generator=torch.Generator().manual_seed(0))
    ref = model(idx)
    for block in model.blocks:
        block.att.backend = "numba"
    torch.testing.assert_close(model(idx), ref, rtol=1e-10, atol=1e-10)
    model.train()
    model(idx).square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_rescale_every_breaks_the_equivalence_so_it_is_off_by_default():
    assert create_model("spikegpt_46m", n_layer=1, dim=8, vocab_size=5).rescale_every == 0
    model = _spiky(7, rescale_every=3)
    idx = torch.randint(0, 11, (10, 2), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert not torch.allclose(_recurrent(model, idx), model(idx), rtol=1e-3, atol=1e-3)


def test_non_spiking_baseline_has_the_same_size():
    a = create_model("spikegpt", spiking=False, binary_embedding=False)
    assert n_params(a) == n_params(create_model("spikegpt"))
    assert not any(b.lif_att for b in a.blocks)


@pytest.mark.parametrize(
    "bad", [torch.zeros(4, 2), torch.zeros(4, dtype=torch.long), torch.zeros(40, 1, dtype=torch.long)]
)
def test_bad_token_input(bad):
    model = create_model("spikegpt", ctx_len=32)
    with pytest.raises(ShapeError, match="spikegpt"):
        model(bad)


def test_bad_sizes():
    with pytest.raises(ConfigError, match="n_layer"):
        create_model("spikegpt", n_layer=0)
