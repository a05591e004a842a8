"""Stateless multi-step layers: ``SeqDropout`` (one mask per sequence, pooled outputs)."""

from __future__ import annotations

import pytest
import torch

from snnlab.nn import SeqDropout
from snnlab.nn.layers import MaskMul


def test_seq_dropout_is_one_mask_for_every_step_and_its_gradient():
    torch.manual_seed(0)
    x = torch.rand(7, 5, 300, dtype=torch.float64, requires_grad=True)  # (T, B, N): pooled size
    y = SeqDropout(0.4)(x)
    mask = y[0].detach() / x[0].detach()  # (B, N): 0 or 1 / 0.6
    assert set(torch.unique(mask.round(decimals=9)).tolist()) <= {0.0, round(1 / 0.6, 9)}
    torch.testing.assert_close(y, x.detach() * mask, rtol=1e-12, atol=1e-12)
    gy = torch.randn_like(x)
    y.backward(gy)
    torch.testing.assert_close(x.grad, gy * mask, rtol=1e-12, atol=1e-12)


def test_mask_mul_equals_the_product_with_gradcheck_and_double_backward():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 4, 6, generator=g, dtype=torch.float64, requires_grad=True)
    mask = (torch.rand(4, 6, generator=g, dtype=torch.float64) < 0.5) / 0.5
    assert torch.autograd.gradcheck(lambda a: MaskMul.apply(a, mask), (x,))
    assert torch.autograd.gradgradcheck(lambda a: MaskMul.apply(a, mask) ** 2, (x,))


def test_seq_dropout_eval_and_p_zero_pass_through_and_bad_p_raises():
    x = torch.rand(2, 3, 4)
    assert SeqDropout(0.5).eval()(x) is x and SeqDropout(0.0)(x) is x
    with pytest.raises(ValueError, match="p must be in"):
        SeqDropout(1.0)
