"""Count what a model computes while it runs: synaptic operations and spikes, per layer.

Forward hooks on synapse layers (``nn.Linear``, ``nn.Conv1d/2d``) and on neuron modules fill
:class:`snnlab.analysis.profile.LayerActivity` records (the profile contract that
:mod:`snnlab.hw` prices). A synapse layer whose input takes at most one non-zero value (binary
spikes, or the weighted spikes of converted networks) performs accumulates, one per non-zero
input times its fan-out; any other input costs dense multiply-accumulates.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from snnlab.analysis.profile import ActivityProfile, LayerActivity
from snnlab.nn.neuron import SpikingNeuron

SYNAPSES = (nn.Linear, nn.Conv1d, nn.Conv2d)


def _is_spiking(x: torch.Tensor) -> bool:
    """At most one non-zero value in ``x`` (binary or weighted spikes)."""
    nz = x[x != 0]
    return nz.numel() == 0 or bool((nz == nz.reshape(-1)[0]).all())


def _dense_per_call(module: nn.Module, out: torch.Tensor) -> float:
    """Dense multiply-accumulates of one call of a synapse layer."""
    if isinstance(module, nn.Linear):
        return float(out.numel() * module.in_features)
    fan_in = module.in_channels // module.groups * int(torch.tensor(module.kernel_size).prod())
    return float(out.numel() * fan_in)


class OpCounter:
    """Context manager that records activity of ``model`` into per-layer records.

    Args:
        model: the network to watch.

    Example::

        with OpCounter(model) as counter:
            model(x)
        profile = counter.profile(samples=x.shape[1], timesteps=x.shape[0])
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.layers: dict[str, LayerActivity] = {}
        self._handles: list[Any] = []
        self._dense: dict[str, float] = {}
        self.rows: int | None = None  # samples x steps in the next call, set by a step-wise runner

    def __enter__(self) -> "OpCounter":
        for name, module in self.model.named_modules():
            if isinstance(module, SYNAPSES):
                self.layers[name] = LayerActivity(name, "synapse", type(module).__name__,
                                                  n_synapses=int(module.weight.numel()))
                self._handles.append(module.register_forward_hook(self._synapse_hook(name)))
            elif isinstance(module, SpikingNeuron) and module.is_spiking_neuron:
                self.layers[name] = LayerActivity(name, "neuron", type(module).__name__)
                self._handles.append(module.register_forward_hook(self._neuron_hook(name)))
        return self

    def __exit__(self, *exc: Any) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _synapse_hook(self, name: str):
        def hook(module: nn.Module, inputs: tuple, out: torch.Tensor) -> None:
            x = inputs[0]
            dense = _dense_per_call(module, out)
            layer = self.layers[name]
            self._dense[name] = self._dense.get(name, 0.0) + dense
            if _is_spiking(x):
                layer.acs += dense * float((x != 0).sum()) / max(x.numel(), 1)
            else:
                layer.macs += dense
        return hook

    def _neuron_hook(self, name: str):
        def hook(module: nn.Module, inputs: tuple, out: torch.Tensor) -> None:
            layer = self.layers[name]
            layer.spikes += float((out != 0).sum())
            layer.neuron_updates += float(out.numel())
            if self.rows:
                layer.n_neurons = max(layer.n_neurons, out.numel() // self.rows)
        return hook

    def profile(self, samples: int, timesteps: int) -> ActivityProfile:
        """The recorded counts as an :class:`ActivityProfile` of ``samples`` inputs.

        Args:
            samples: inputs processed while counting.
            timesteps: the step budget (T_max); rates are per step of that budget. Without
                ``rows`` set during the run, neurons per layer are updates / (samples * timesteps).
        """
        layers = []
        for name, layer in self.layers.items():
            rec = LayerActivity(**{**layer.__dict__, "extra": dict(layer.extra)})
            rec.dense_ops = self._dense.get(name, 0.0) / max(samples, 1)
            if rec.kind == "neuron":
                n = rec.n_neurons or round(rec.neuron_updates / max(samples * timesteps, 1))
                rec.n_neurons = int(n)
                rec.output_rate = rec.spikes / max(n * samples * timesteps, 1)
            layers.append(rec)
        return ActivityProfile(samples, timesteps, None, layers, "dense")


def spikes_per_neuron(profile: ActivityProfile) -> float:
    """Spikes per neuron per inference, over all spiking layers (the paper's activity measure)."""
    totals = profile.totals()
    return totals["spikes"] / max(totals["n_neurons"] * profile.samples, 1)
