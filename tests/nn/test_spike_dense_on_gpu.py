"""On CUDA tensors ``backend='auto'`` leaves SpikeLinear and SpikeConv2d to the dense cuBLAS/cuDNN op.

Measured on an H200 (benchmarks/README.md, GPU section): cuBLAS ran 700 -> 256 on 25,600 rows 2.6-5.8x
faster than the ``linear.spikes`` cuda kernel at 1-20 % density. CI has no GPU, so the decision is
checked on a stand-in for a CUDA tensor, and the modules' dense route on CPU tensors with it forced.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

import snnlab.nn.spike_conv as spike_conv
import snnlab.nn.spike_linear as spike_linear
from snnlab.nn.spike_conv import SpikeConv2d
from snnlab.nn.spike_linear import SpikeLinear, dense_on_gpu


@pytest.mark.parametrize(
    "is_cuda,backend,dense",
    [(True, "auto", True), (True, "cuda", False), (True, "torch", False), (False, "auto", False)],
)
def test_auto_on_cuda_is_dense(is_cuda, backend, dense):
    assert dense_on_gpu(SimpleNamespace(is_cuda=is_cuda), backend) is dense


def _no_kernel(*a, **k):
    raise AssertionError("the sparse kernel ran where the dense op was chosen")


def test_modules_take_the_dense_route_when_chosen(monkeypatch):
    torch.manual_seed(0)
    lin, conv = SpikeLinear(12, 5), SpikeConv2d(6, 4, 1)
    x = (torch.rand(7, 12) < 0.1).float()
    xc = (torch.rand(2, 6, 5, 5) < 0.1).float().contiguous(memory_format=torch.channels_last)
    for mod in (spike_linear, spike_conv):
        monkeypatch.setattr(mod, "dense_on_gpu", lambda x, backend: True)
        monkeypatch.setattr(mod, "dispatch", _no_kernel)
    torch.testing.assert_close(lin(x), F.linear(x, lin.weight, lin.bias))
    torch.testing.assert_close(conv(xc), F.conv2d(xc, conv.weight, conv.bias))
    for mod in (spike_linear, spike_conv):  # and the sparse route when not chosen
        monkeypatch.setattr(mod, "dense_on_gpu", lambda x, backend: False)
    with pytest.raises(AssertionError, match="sparse kernel ran"):
        lin(x)
