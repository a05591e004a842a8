"""The layer-kind profile of benchmarks/bench_maxformer.py assigns forward and backward time to the right groups."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from torch import nn

from snnlab.nn.maxformer import maxformer_lif

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_maxformer.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_maxformer", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_profile_groups_forward_and_backward_by_layer_kind():
    bench = _bench()
    conv3, conv1, bn, lif, pool = (
        nn.Conv2d(2, 4, 3, padding=1),
        nn.Conv2d(4, 4, 1),
        nn.BatchNorm2d(4),
        maxformer_lif(),
        nn.MaxPool2d(3, 2, 1),
    )
    kinds = [bench.layer_group(m) for m in (conv3, conv1, nn.Conv2d(4, 4, 3, groups=4), bn, lif, pool, nn.Linear(2, 2))]
    assert kinds == ["3x3 conv", "1x1 conv", "depth-wise conv", "batch norm", "LIF", "max-pool", "head (linear)"]
    assert bench.layer_group(nn.Sequential()) is None
    for m in (conv3, conv1, bn, lif, pool):
        m.forward = bench._scoped(m.forward, "group:" + bench.layer_group(m))
    x = torch.randn(3, 2, 8, 8, requires_grad=True)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        h = bn(conv1(conv3(x)))  # (3, 4, 8, 8)
        y = pool(lif(h.unsqueeze(0)).squeeze(0) + h)
        y.square().sum().backward()
    times = bench.group_times(prof.events(), step_s=10.0)
    for name in ("3x3 conv", "1x1 conv", "batch norm", "LIF", "max-pool"):
        fwd, bwd = times[name]
        assert fwd > 0 and bwd > 0, name  # every layer kind got its forward and its backward nodes
    rest = times.pop("rest (views, copies, additions, loss)")[0]
    assert abs(rest + sum(map(sum, times.values())) - 1e4) < 1e-6  # the groups and the rest add up to the step
