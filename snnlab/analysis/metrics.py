"""NeuroBench-style metrics: static (footprint, connection sparsity) and workload (sparsity).

Static metrics follow NeuroBench: the footprint counts every parameter and buffer in bytes
(zero weights included); connection sparsity is the fraction of zero weights over the
connection layers (Linear, Conv1d/2d, delay layers); neuron modules contribute nothing.
Activation sparsity is the fraction of zero outputs of the neuron layers over all steps.
"""

from __future__ import annotations

from typing import Any

from snnlab.ir.activity import ActivityProfile


def static_metrics(model: Any) -> dict[str, float]:
    """Parameter count, footprint in bytes and connection sparsity of a torch model."""
    from torch import nn

    params = sum(p.numel() for p in model.parameters())
    footprint = sum(p.numel() * p.element_size() for p in model.parameters())
    footprint += sum(b.numel() * b.element_size() for b in model.buffers())
    zeros = total = 0
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)) or getattr(module, "is_delay_layer", False):
            weight = getattr(module, "weight", None)
            if weight is not None:
                zeros += int((weight == 0).sum())
                total += weight.numel()
    sparsity = round(zeros / total, 4) if total else 0.0
    return {"parameter_count": int(params), "footprint_bytes": int(footprint), "connection_sparsity": sparsity}


def activation_sparsity(profile: ActivityProfile) -> float:
    """Fraction of zero outputs over all neuron layers, steps and samples (1 = silent)."""
    updates = sum(l.neuron_updates for l in profile.layers if l.kind == "neuron")
    spikes = sum(l.spikes for l in profile.layers if l.kind == "neuron")
    return 1.0 - spikes / updates if updates else 0.0


def synaptic_operations(profile: ActivityProfile) -> dict[str, float]:
    """NeuroBench's SynapticOperations per sample: effective MACs, effective ACs and dense ops."""
    one = profile.per_inference()
    return {
        "Effective_MACs": sum(l.macs for l in one.layers),
        "Effective_ACs": sum(l.acs for l in one.layers),
        "Dense": sum(l.dense_ops for l in one.layers),
    }


def summary(profile: ActivityProfile) -> dict[str, Any]:
    """All workload metrics of a profile plus its static metrics, for reports."""
    return {
        **synaptic_operations(profile),
        "activation_sparsity": activation_sparsity(profile),
        "neuron_updates": profile.per_inference().totals()["neuron_updates"],
        "spikes": profile.per_inference().totals()["spikes"],
        **profile.meta,
    }
