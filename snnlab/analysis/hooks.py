"""Measure a torch model's activity with forward hooks, by NeuroBench's definitions.

For each synapse layer (``nn.Linear``, ``nn.Conv1d/2d``, attention matmuls, delay layers) the
hook re-runs the layer on binarised inputs and weights (non-zero -> 1, bias dropped): the sum of
the outputs is the number of *effective* synaptic operations (zero inputs and zero weights are
skipped). They are ACs when the input is a spike tensor (its non-zero values share one magnitude:
binary spikes, signed events, or the weighted spikes of converted networks, whose constant folds
into the weights) and MACs otherwise. ``dense`` ops repeat that with all-ones inputs and weights.

:class:`ActivityRecorder` accumulates over any number of forward calls (whole sequences, or one
step at a time with a shrinking batch, as the early-exit runner does); :func:`profile_model`
is one multi-step call under it. Neuron modules (``is_spiking_neuron = True``,
or any module turning real-valued input into binary output) count one membrane update per
neuron and step, and their spikes. Delay layers (``is_delay_layer = True``) count non-zero
inputs x fan-out x taps.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from snnlab.ir.activity import ActivityProfile, LayerActivity

SYNAPSE_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d)
SHAPE_TYPES = (
    nn.Flatten,
    nn.Unflatten,
    nn.Dropout,
    nn.Identity,
    nn.MaxPool1d,
    nn.MaxPool2d,
    nn.AvgPool1d,
    nn.AvgPool2d,
    nn.AdaptiveAvgPool2d,
    nn.BatchNorm1d,
    nn.BatchNorm2d,
)


def is_binary(x: torch.Tensor) -> bool:
    """Whether every value is -1, 0 or 1."""
    return bool(((x == 0) | (x == 1) | (x == -1)).all())


def is_spike_tensor(x: torch.Tensor) -> bool:
    """Whether all non-zero values of ``x`` share one magnitude (synaptic ops are accumulates)."""
    nz = x[x != 0].abs()
    return nz.numel() == 0 or bool((nz == nz.reshape(-1)[0]).all())


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


class ActivityRecorder:
    """Context manager that accumulates per-layer activity of ``model`` over its forward calls.

    Example::

        with ActivityRecorder(model) as rec:
            model(x)                       # any number of calls, multi- or single-step
        profile = rec.profile(samples=x.shape[1], timesteps=x.shape[0])
    """

    def __init__(self, model: nn.Module):
        self.model = model
        self.layers: dict[str, LayerActivity] = {}
        self._handles: list[Any] = []
        self.batch: int | None = None  # samples in the next single-step call, set by step-wise runners

    def __enter__(self) -> ActivityRecorder:
        self._handles = [m.register_forward_hook(_make_hook(self, n, m)) for n, m in _targets(self.model)]
        return self

    def __exit__(self, *exc: Any) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def profile(self, samples: int, timesteps: int, dt: float | None = None) -> ActivityProfile:
        """The counts as an :class:`ActivityProfile` of ``samples`` inputs over ``timesteps`` steps."""
        layers = []
        for layer in self.layers.values():
            rec = LayerActivity(
                **{**layer.__dict__, "extra": {k: v for k, v in layer.extra.items() if not k.endswith(("_n", "_nz"))}}
            )
            rec.dense_ops = layer.dense_ops / max(samples, 1)
            if rec.kind == "neuron":
                rec.output_rate = rec.spikes / max(rec.n_neurons * samples * timesteps, 1)
            layers.append(rec)
        from snnlab.analysis.metrics import static_metrics

        return ActivityProfile(samples, timesteps, dt, layers, "dense", meta=static_metrics(self.model))

    def _get(self, name: str, kind: str, module: nn.Module) -> LayerActivity:
        if name not in self.layers:
            self.layers[name] = LayerActivity(name, kind, type(module).__name__)
        return self.layers[name]

    def _rate(self, layer: LayerActivity, x: torch.Tensor, key: str) -> None:
        total, nonzero = (
            layer.extra.get(key + "_n", 0) + x.numel(),
            layer.extra.get(key + "_nz", 0) + int((x != 0).sum()),
        )
        layer.extra[key + "_n"], layer.extra[key + "_nz"] = total, nonzero
        setattr(layer, key, nonzero / total if total else 0.0)

    def synapse(self, name: str, module: nn.Module, x: torch.Tensor) -> None:
        layer = self._get(name, "synapse", module)
        effective = _binary_forward(module, x, ones=False)
        if is_spike_tensor(x):
            layer.acs += effective
        else:
            layer.macs += effective
        layer.dense_ops += _binary_forward(module, x, ones=True)  # divided by samples in profile()
        layer.n_synapses = int((module.weight != 0).sum())
        fan_in, fan_out = _fan(module)
        layer.extra.update(
            fan_in=fan_in,
            fan_out=fan_out,
            shape=list(module.weight.shape),
            connection_sparsity=1.0 - layer.n_synapses / module.weight.numel(),
        )
        self._rate(layer, x, "input_rate")

    def delay(self, name: str, module: nn.Module, x: torch.Tensor) -> None:
        layer = self._get(name, "synapse", module)
        fan_out = int(module.out_features)
        taps = int(getattr(module, "kernel_count", 1))
        ops = float((x != 0).sum()) * fan_out * taps
        spiking = is_spike_tensor(x)
        layer.acs += ops if spiking else 0.0
        layer.macs += 0.0 if spiking else ops
        layer.dense_ops += x.numel() * fan_out * taps
        layer.n_synapses = int(module.in_features) * fan_out * taps
        layer.extra.update(
            fan_in=int(module.in_features) * taps,
            fan_out=fan_out,
            taps=taps,
            max_delay=int(getattr(module, "max_delay", 0)),
        )
        self._rate(layer, x, "input_rate")

    def matmul(self, name: str, module: nn.Module, a: torch.Tensor, b: torch.Tensor) -> None:
        layer = self._get(name, "attention", module)
        effective = float(((a != 0).to(torch.float32) @ (b != 0).to(torch.float32)).sum())
        # one spike operand makes every product an addition of the other's value (q (k^T v) in SSA)
        if is_spike_tensor(a) or is_spike_tensor(b):
            layer.acs += effective
        else:
            layer.macs += effective
        layer.dense_ops += a.shape[-1] * a[..., 0].numel() * b.shape[-1]
        self._rate(layer, a, "input_rate")

    def neuron(self, name: str, module: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
        layer = self._get(name, "neuron", module)
        if getattr(module, "step_mode", "m") == "s":
            per_sample = [y.numel() // self.batch] if self.batch else list(y.shape[1:])
        else:
            per_sample = list(y.shape[2:])
        layer.n_neurons = max(int(math.prod(per_sample)), 1)
        layer.neuron_updates += y.numel()
        layer.spikes += float((y != 0).sum())
        self._rate(layer, x, "input_rate")
        layer.extra["shape"] = per_sample


def _first_tensor(value: Any) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)) and value and isinstance(value[0], torch.Tensor):
        return value[0]
    return None


def _make_hook(rec: ActivityRecorder, name: str, module: nn.Module):
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
    with ActivityRecorder(model) as rec, torch.no_grad():
        model(x)
    return rec.profile(int(x.shape[1]), int(x.shape[0]), dt)
