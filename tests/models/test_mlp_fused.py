"""``mlp_snn``: hidden blocks with the fused BatchNorm -> LIF -> dropout op equal the unfused modules.

Same dropout masks (same random draws), outputs, every parameter's gradient and the BatchNorm
buffers over two training steps in float64; evaluation runs the modules; the switch is in the
state-dict-free constructor (checkpoints of either load into the other).
"""

from __future__ import annotations

import torch

from snnlab.models import create_model

CFG = dict(in_features=40, num_classes=5, hidden=[16, 12], tau=3.0, batch_norm=True, dropout=0.3, bias=False)


def _pair() -> tuple[torch.nn.Module, torch.nn.Module]:
    fused = create_model("mlp_snn", surrogate_alpha=5.0, detach_reset=True, **CFG).double()
    for m in fused.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            torch.nn.init.constant_(m.bias, 1.5)  # the hidden layers fire
    plain = create_model("mlp_snn", surrogate_alpha=5.0, detach_reset=True, fuse_bn_neuron=False, **CFG).double()
    plain.load_state_dict(fused.state_dict())
    return fused, plain


def test_fused_hidden_blocks_equal_the_modules() -> None:
    fused, plain = _pair()
    x = (torch.rand(20, 8, 40, generator=torch.Generator().manual_seed(0)) < 0.2).double()
    for step in range(2):
        outs = []
        for model in (fused, plain):
            torch.manual_seed(step)  # the same dropout masks
            out = model(x)
            out.mean(0).pow(2).sum().backward()
            outs.append(out.detach())
        assert torch.equal(outs[0], outs[1]) and float(outs[0].abs().mean()) > 0
    for (name, p), q in zip(fused.named_parameters(), plain.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-10, atol=1e-13, msg=name)
    for (name, b), c in zip(fused.named_buffers(), plain.buffers()):
        torch.testing.assert_close(b, c, rtol=0, atol=1e-15, msg=name)
    fused.eval(), plain.eval()
    assert torch.equal(fused(x), plain(x))


def test_fused_blocks_reach_the_op(monkeypatch) -> None:
    import snnlab.nn.bn_neuron as bn_neuron

    calls = []
    real = bn_neuron.dispatch
    monkeypatch.setattr(bn_neuron, "dispatch", lambda op, *a, **k: calls.append(op) or real(op, *a, **k))
    fused, plain = _pair()
    x = (torch.rand(6, 4, 40) < 0.2).double()
    fused(x), plain(x)
    assert calls == ["batch_norm.neuron"] * 2
