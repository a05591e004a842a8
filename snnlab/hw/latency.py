"""Latency per time step and per inference from a chip's timing model and a mapping.

Per layer and step, the work of a core is ``synops * synop_s + updates * neuron_update_s``
divided by the cores the layer is split over. On a ``parallel`` chip all cores work at once
and a step lasts as long as its slowest core plus the barrier (``step_overhead_s``); on a
``sequential`` one (a GPU, a single-core chip) layers run in turn and their times add. A chip
with a fixed tick (TrueNorth, SpiNNaker real-time) never takes less than ``min_step_s``.
"""

from __future__ import annotations

import math
from typing import Any

from snnlab.hw.profiles import HardwareProfile
from snnlab.ir.activity import ActivityProfile, LayerActivity


def _next_neuron_layer(layers: list[LayerActivity], index: int) -> LayerActivity | None:
    for layer in layers[index:]:
        if layer.kind == "neuron":
            return layer
    return None


def layer_cores(activity: ActivityProfile, profile: HardwareProfile, mapping: Any = None) -> dict[str, int]:
    """Cores each activity layer runs on.

    A neuron layer uses the cores the mapping gave it (or as many as its neurons need); a
    synapse or attention layer uses the cores of the neuron layer it feeds.
    """
    per_core = profile.capacity["neurons_per_core"]
    counts: dict[str, int] = {}
    for i, layer in enumerate(activity.layers):
        target = layer if layer.kind == "neuron" else _next_neuron_layer(activity.layers, i)
        if target is None:
            counts[layer.name] = 1
            continue
        mapped = mapping.cores_for(target.name) if mapping is not None else []
        counts[layer.name] = len(mapped) or max(1, math.ceil(target.n_neurons / per_core))
    return counts


def synops_per_step(layer: LayerActivity, profile: HardwareProfile, activity: ActivityProfile) -> float:
    """Synaptic operations of one sample in one step (dense MACs on a dense-compute chip)."""
    steps = max(activity.timesteps, 1)
    if profile.features.get("dense_compute"):
        return layer.dense_ops / steps
    return (layer.macs + layer.acs) / (max(activity.samples, 1) * steps)


def layer_step_times(activity: ActivityProfile, profile: HardwareProfile, mapping: Any = None) -> dict[str, float]:
    """Seconds one core of each layer works in one step."""
    cores = layer_cores(activity, profile, mapping)
    steps = max(activity.timesteps, 1)
    samples = max(activity.samples, 1)
    times = {}
    for layer in activity.layers:
        updates = layer.neuron_updates / (samples * steps)
        work = synops_per_step(layer, profile, activity) * profile.timing["synop_s"]
        work += updates * profile.timing["neuron_update_s"]
        times[layer.name] = work / cores[layer.name]
    return times


def step_time(activity: ActivityProfile, profile: HardwareProfile, mapping: Any = None) -> float:
    """Seconds of one time step of one inference."""
    times = list(layer_step_times(activity, profile, mapping).values()) or [0.0]
    work = max(times) if profile.execution == "parallel" else sum(times)
    step = work + profile.timing["step_overhead_s"]
    return max(step, profile.timing.get("min_step_s", 0.0))


def latency(
    activity: ActivityProfile, profile: HardwareProfile, mapping: Any = None, steps: int | None = None
) -> float:
    """Seconds per inference: step time times the steps used (``steps`` overrides, e.g. early exit)."""
    used = activity.timesteps if steps is None else steps
    if used < 0:
        raise ValueError(f"steps must be >= 0, got {used}")
    return step_time(activity, profile, mapping) * used
