"""conv_snn pooling kinds: max (the classic, not NIR-expressible), avg and sum (exported, simulated exactly)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from snnlab import ir
from snnlab.errors import ConfigError, GraphError
from snnlab.models import create_model
from snnlab.sim import Simulator
from snnlab.train.recording import record_spikes

CFG = {"input_shape": [2, 12, 12], "channels": [4, 6], "kernel_size": 3, "padding": 1, "pool": 2, "num_classes": 5}


def _trained_like(pool_kind: str) -> torch.nn.Module:
    """A small conv_snn in eval mode with non-trivial BatchNorm statistics."""
    torch.manual_seed(0)
    model = create_model("conv_snn", pool_kind=pool_kind, **CFG)
    with torch.no_grad():
        for block, gain in zip(model.features, (3.0, 10.0)):  # excitatory enough that both layers fire
            block.synapse.module[0].weight.abs_().mul_(gain).sub_(0.2)
            bn = block.synapse.module[1]
            bn.running_mean.uniform_(-0.2, 0.2)
            bn.running_var.uniform_(0.5, 1.5)
    return model.eval()


@pytest.mark.parametrize("pool_kind, node", [("avg", "AvgPool2d"), ("sum", "SumPool2d")])
def test_avg_and_sum_pooling_export_and_simulate_with_the_same_spikes(pool_kind: str, node: str, tmp_path) -> None:
    model = _trained_like(pool_kind)
    graph = ir.load(ir.save(ir.to_nir(model), tmp_path / "conv.nir"))
    model = model.double()  # the dense reference in float64, as the simulator runs
    assert [type(graph.nodes[f"features.{i}.pool"]).__name__ for i in (0, 1)] == [node, node]
    x = (torch.rand(10, 3, 2, 12, 12, generator=torch.Generator().manual_seed(1)) < 0.3).double()  # (T, B, C, H, W)
    dense, out = record_spikes(model, x)
    assert set(dense) == {"features.0.neuron", "features.1.neuron"}
    assert all(s.sum() > 0 for s in dense.values())  # the comparison is not vacuous
    result = Simulator(graph, backend="numba", dtype=np.float64, record=list(dense)).run(x.numpy())
    for name, ref in dense.items():
        np.testing.assert_array_equal(result.dense(name).reshape(ref.shape), ref.astype(bool), err_msg=name)
    np.testing.assert_allclose(result.output("output"), out.numpy(), rtol=0, atol=1e-9)


def test_sum_pooling_adds_and_avg_pooling_averages() -> None:
    x = torch.ones(1, 1, 2, 12, 12, dtype=torch.float64)
    sums = create_model("conv_snn", pool_kind="sum", **CFG).double().features[0].pool(x)
    avgs = create_model("conv_snn", pool_kind="avg", **CFG).double().features[0].pool(x)
    assert torch.equal(sums, torch.full_like(sums, 4.0)) and torch.equal(avgs, torch.ones_like(avgs))


def test_max_pooling_stays_the_default_and_does_not_export() -> None:
    model = create_model("conv_snn", **CFG)
    assert isinstance(model.features[0].pool.module, torch.nn.MaxPool2d)
    with pytest.raises(GraphError, match="MaxPool2d"):
        ir.to_nir(model)


def test_unknown_pool_kind_names_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match="pool_kind must be one of max, avg, sum"):
        create_model("conv_snn", pool_kind="min", **CFG)


def test_snnlab_export_writes_a_conv_run_with_avg_pooling(tmp_path) -> None:
    from snnlab.cli import main
    from snnlab.train.checkpoint import atomic_save
    from snnlab.train.config import config_from_dict

    cfg = {"name": "conv_snn", "pool_kind": "avg", **CFG}
    run = tmp_path / "conv"
    run.mkdir()
    config_from_dict({"model": dict(cfg)}).save(run / "config.yaml")
    atomic_save({"format": 1, "model": _trained_like("avg").state_dict()}, run / "checkpoints" / "best.pt")
    assert main(["export", str(run), "--to", "nir"]) == 0
    graph = ir.load(run / "model.nir")
    assert type(graph.nodes["features.0.pool"]).__name__ == "AvgPool2d" and graph.metadata["dt"] == 1e-3
