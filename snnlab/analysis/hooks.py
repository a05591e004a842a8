"""Measure a torch model's activity with forward hooks, by NeuroBench's definitions.

For each synapse layer (``nn.Linear``, ``nn.Conv1d/2d``, attention matmuls, delay layers) the
hook re-runs the layer on binarised inputs and weights (non-zero -> 1, bias dropped): the sum of
the outputs is the number of *effective* synaptic operations (zero inputs and zero weights are
skipped). They are ACs when every input is in {-1, 0, 1} (spikes) and MACs otherwise. ``dense``
ops repeat that with all-ones inputs and weights. Neuron modules (``is_spiking_neuron = True``,
or any module turning real-valued input into binary output) count one membrane update per
neuron and step, and their spikes. Delay layers (``is_delay_layer = True``) count non-zero
inputs x fan-out x taps.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from snnlab.analysis.profile import ActivityProfile, LayerActivity

SYNAPSE_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d)
SHAPE_TYPES = (nn.Flatten, nn.Unflatten, nn.Dropout, nn.Identity, nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d,
               nn.AdaptiveAvgPool2d, nn.BatchNorm1d, nn.BatchNorm2d)


def is_binary(x: torch.Tensor) -> bool:
    """Whether every value is -1, 0 or 1 (a spike tensor)."""
    return bool(((x == 0) | (x == 1) | (x == -1)).all())


def _binary_forward(module: nn.Module, x: torch.Tensor, ones: bool) -> float:
    """Sum of the layer's output on binarised (or all-ones) input and weight, without bias."""
    weight = torch.ones_like(module.weight) if ones else (module.weight != 0).to(x.dtype)
    xb = torch.ones_like(x) if ones else (x != 0).to(x.dtype)
    if isinstance(module, nn.Linear):
        return float(torch.nn.functional.linear(xb, weight).sum())
    conv = torch.nn.functional.conv1d if isinstance(module, nn.Conv1d) else torch.nn.functional.conv2d
    if module.padding_mode != "zeros":
        xb = torch.nn.functional.pad(xb, module._reversed_padding_repeated_twice, mode="constant")
        padding = 0
    else:
        padding = module.padding
    return float(conv(xb, weight, None, module.stride, padding, module.dilation, module.groups).sum())


def _fan(module: nn.Module) -> tuple[int, int]:
    weight = module.weight
    fan_in = int(weight[0].numel())
    if isinstance(module, nn.Linear):
        return fan_in, int(weight.shape[0])
    stride = math.prod(module.stride)
    return fan_in, math.ceil(weight.shape[0] // module.groups * weight[0, 0].numel() / stride)


class _Recorder:
    """Accumulates per-module counts over the forward passes of one profiling run."""

    def __init__(self, steps: int, samples: int):
        self.steps, self.samples = steps, samples
        self.layers: dict[str, LayerActivity] = {}

    def _get(self, name: str, kind: str, module: nn.Module) -> LayerActivity:
        if name not in self.layers:
            self.layers[name] = LayerActivity(name, kind, type(module).__name__)
        return self.layers[name]

    def _rate(self, layer: LayerActivity, x: torch.Tensor, key: str) -> None:
        total, nonzero = layer.extra.get(key + "_n", 0) + x.numel(), layer.extra.get(key + "_nz", 0) + int((x != 0).sum())
        layer.extra[key + "_n"], layer.extra[key + "_nz"] = total, nonzero
        setattr(layer, key, nonzero / total if total else 0.0)

    def synapse(self, name: str, module: nn.Module, x: torch.Tensor) -> None:
        layer = self._get(name, "synapse", module)
        effective = _binary_forward(module, x, ones=False)
        if is_binary(x):
            layer.acs += effective
        else:
            layer.macs += effective
        layer.dense_ops += _binary_forward(module, x, ones=True) / self.samples
        layer.n_synapses = int((module.weight != 0).sum())
        fan_in, fan_out = _fan(module)
        layer.extra.update(fan_in=fan_in, fan_out=fan_out, shape=list(module.weight.shape),
                           connection_sparsity=1.0 - layer.n_synapses / module.weight.numel())
        self._rate(layer, x, "input_rate")

    def delay(self, name: str, module: nn.Module, x: torch.Tensor) -> None:
        layer = self._get(name, "synapse", module)
        fan_out = int(getattr(module, "out_features"))
        taps = int(getattr(module, "kernel_count", 1))
        ops = float((x != 0).sum()) * fan_out * taps
        layer.acs += ops if is_binary(x) else 0.0
        layer.macs += 0.0 if is_binary(x) else ops
        layer.dense_ops += x.numel() * fan_out * taps / self.samples
        layer.n_synapses = int(getattr(module, "in_features")) * fan_out * taps
        layer.extra.update(fan_in=int(getattr(module, "in_features")) * taps, fan_out=fan_out, taps=taps,
                           max_delay=int(getattr(module, "max_delay", 0)))
        self._rate(layer, x, "input_rate")

    def matmul(self, name: str, module: nn.Module, a: torch.Tensor, b: torch.Tensor) -> None:
        layer = self._get(name, "attention", module)
        effective = float(((a != 0).to(torch.float32) @ (b != 0).to(torch.float32)).sum())
        if is_binary(a) and is_binary(b):
            layer.acs += effective
        else:
            layer.macs += effective
        layer.dense_ops += a.shape[-1] * a[..., 0].numel() * b.shape[-1] / self.samples
        self._rate(layer, a, "input_rate")

    def neuron(self, name: str, module: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
        layer = self._get(name, "neuron", module)
        layer.n_neurons = y.numel() // (self.steps * self.samples)
        layer.neuron_updates += y.numel()
        layer.spikes += float((y != 0).sum())
        self._rate(layer, x, "input_rate")
        self._rate(layer, y, "output_rate")
        layer.extra["shape"] = list(y.shape[2:]) if y.dim() > 2 and y.shape[0] == self.steps else [layer.n_neurons]


def _first_tensor(value: Any) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)) and value and isinstance(value[0], torch.Tensor):
        return value[0]
    return None


def _make_hook(rec: _Recorder, name: str, module: nn.Module):
    def hook(mod: nn.Module, inputs: tuple, output: Any) -> None:
        x, y = _first_tensor(inputs), _first_tensor(output)
        if x is None or y is None:
            return
        if getattr(mod, "is_delay_layer", False):
            rec.delay(name, mod, x)
        elif getattr(mod, "is_attention_matmul", False):
            rec.matmul(name, mod, inputs[0], inputs[1])
        elif isinstance(mod, SYNAPSE_TYPES):
            rec.synapse(name, mod, x)
        elif getattr(mod, "is_spiking_neuron", False):
            rec.neuron(name, mod, x, y)
        elif not isinstance(mod, SHAPE_TYPES) and is_binary(y) and not is_binary(x):
            rec.neuron(name, mod, x, y)

    return hook


def _targets(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Modules to hook: leaves, plus neuron/delay/matmul modules (whose children are skipped)."""
    out, skip = [], set()
    for name, module in model.named_modules():
        if any(name.startswith(prefix + ".") for prefix in skip):
            continue
        special = any(getattr(module, a, False) for a in ("is_spiking_neuron", "is_delay_layer", "is_attention_matmul"))
        if special:
            skip.add(name)
        if special or not list(module.children()):
            out.append((name or type(module).__name__, module))
    return out


def profile_model(model: nn.Module, x: torch.Tensor, dt: float | None = None) -> ActivityProfile:
    """Run ``model`` on ``x`` and count its activity per layer.

    Args:
        model: any torch module taking a time-major input.
        x: input of shape (T, B, ...).
        dt: seconds per step, recorded in the profile.

    Returns:
        Totals over all samples and steps; ``meta`` holds footprint and connection sparsity.
    """
    if x.dim() < 2:
        raise ValueError(f"input must be time-major (T, B, ...), got shape {tuple(x.shape)}")
    rec = _Recorder(int(x.shape[0]), int(x.shape[1]))
    handles = [m.register_forward_hook(_make_hook(rec, n, m)) for n, m in _targets(model)]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    layers = list(rec.layers.values())
    for layer in layers:
        layer.extra = {k: v for k, v in layer.extra.items() if not k.endswith(("_n", "_nz"))}
    from snnlab.analysis.metrics import static_metrics

    return ActivityProfile(rec.samples, rec.steps, dt, layers, "dense", meta=static_metrics(model))
