"""Map the neuron layers of a NIR graph onto a chip's cores, and quantise its weights.

Each layer is checked against the chip's limits (neuron type, fan-in, fan-out, delays,
inputs), split evenly over as many cores as its neurons and synapses need (when the chip can
split layers), and the parts are placed first-fit, packing small layers into partly used cores
when the chip allows it. Weights are quantised symmetrically per layer to ``weight_bits``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from snnlab.errors import MappingError
from snnlab.hw.graph import GraphLayers, NeuronLayer, graph_layers
from snnlab.hw.profiles import HardwareProfile, load_profile


@dataclass
class Core:
    """One core: its capacity and the layer slices placed on it."""

    core_id: int
    neuron_capacity: float
    synapse_capacity: float
    slices: list[tuple[str, int, int]] = field(default_factory=list)  # (layer, first neuron, stop)
    neurons: int = 0
    synapses: int = 0

    @property
    def utilisation(self) -> float:
        return self.neurons / self.neuron_capacity

    @property
    def synapse_utilisation(self) -> float:
        return self.synapses / self.synapse_capacity


@dataclass
class Quantisation:
    """Symmetric per-layer quantisation of one neuron layer's incoming weights."""

    bits: int
    scale: float  # weight = q * scale, q in [-(2^(bits-1)-1), 2^(bits-1)-1]
    rms_error: float  # RMS of (w - q * scale)
    max_error: float
    relative_error: float  # ||w - q * scale|| / ||w||


@dataclass
class Mapping:
    """Placement of a graph's neuron layers on a chip's cores."""

    profile: str
    cores: list[Core]
    layer_cores: dict[str, list[int]]
    quantisation: dict[str, Quantisation]

    def cores_for(self, layer: str) -> list[int]:
        """Core ids holding ``layer`` (empty when the layer is not a mapped neuron layer)."""
        return self.layer_cores.get(layer, [])

    def mean_utilisation(self) -> float:
        return float(np.mean([c.utilisation for c in self.cores])) if self.cores else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "cores": [
                {
                    "id": c.core_id,
                    "neurons": c.neurons,
                    "synapses": c.synapses,
                    "utilisation": c.utilisation,
                    "synapse_utilisation": c.synapse_utilisation,
                    "slices": [list(s) for s in c.slices],
                }
                for c in self.cores
            ],
            "layer_cores": self.layer_cores,
            "quantisation": {k: vars(q) for k, q in self.quantisation.items()},
        }


def _over(need: float, allowed: float) -> str:
    if allowed <= 0:
        return "the chip has none"
    return f"+{100.0 * (need - allowed) / allowed:.0f}%"


def _fail(profile: HardwareProfile, layer: str, what: str, need: float, allowed: float) -> MappingError:
    return MappingError(
        f"layer {layer!r} needs {need:g} {what}, {profile.name} allows {allowed:g} ({_over(need, allowed)})"
    )


def check_limits(graph: GraphLayers, profile: HardwareProfile) -> None:
    """Raise MappingError for the first layer that breaks a per-neuron limit of the chip."""
    cap, feats = profile.capacity, profile.features
    for name, shape in graph.inputs.items():
        size = int(np.prod(shape))
        if "max_inputs" in cap and size > cap["max_inputs"]:
            raise _fail(profile, name, "input channels", size, cap["max_inputs"])
    for layer in graph.layers:
        if not profile.supports(layer.op):
            raise MappingError(
                f"layer {layer.name!r} is a {layer.op} neuron; {profile.name} supports {feats['neuron_types']}"
            )
        convs = any(p.op.startswith("Conv") for p in layer.projections)
        if convs and not feats["conv"]:
            raise MappingError(f"layer {layer.name!r} is convolutional; {profile.name} has no convolution support")
        if layer.fan_in > cap["fan_in"]:
            raise _fail(profile, layer.name, "fan-in", layer.fan_in, cap["fan_in"])
        fan_out = graph.fan_out(layer.name)
        if fan_out > cap["fan_out"]:
            raise _fail(profile, layer.name, "fan-out", fan_out, cap["fan_out"])
        if layer.max_delay > cap.get("max_delay_steps", 0):
            raise _fail(profile, layer.name, "delay steps", layer.max_delay, cap.get("max_delay_steps", 0))
    outputs = graph.layers[-1].n_neurons
    if "max_outputs" in cap and outputs > cap["max_outputs"]:
        raise _fail(profile, graph.layers[-1].name, "output neurons", outputs, cap["max_outputs"])


def layer_synapses(layer: NeuronLayer, profile: HardwareProfile) -> int:
    """Synapse memory the layer needs: stored kernels on weight-sharing chips, else every connection."""
    if profile.features["weight_sharing"]:
        return sum(p.stored_weights for p in layer.projections)
    return sum(p.n_synapses for p in layer.projections)


def _parts(layer: NeuronLayer, synapses: int, profile: HardwareProfile) -> int:
    largest_n = max(n for n, _ in profile.core_capacities())
    largest_s = max(s for _, s in profile.core_capacities())
    need = max(math.ceil(layer.n_neurons / largest_n), math.ceil(synapses / largest_s), 1)
    if need > 1 and not profile.features["split_layers"]:
        if layer.n_neurons > largest_n:
            raise _fail(profile, layer.name, "neurons in one core", layer.n_neurons, largest_n)
        raise _fail(profile, layer.name, "synapses in one core", synapses, largest_s)
    return need


def _place(cores: list[Core], free: list[Core], part: tuple[str, int, int], syn: int, pack: bool) -> Core | None:
    neurons = part[2] - part[1]
    candidates = [
        c for c in cores if pack and c.neurons + neurons <= c.neuron_capacity and c.synapses + syn <= c.synapse_capacity
    ]
    if not candidates:
        fitting = [c for c in free if neurons <= c.neuron_capacity and syn <= c.synapse_capacity]
        if not fitting:
            return None
        core = min(fitting, key=lambda c: (c.neuron_capacity * c.synapse_capacity, c.core_id))
        free.remove(core)
        cores.append(core)
    else:
        core = candidates[0]
    core.slices.append(part)
    core.neurons += neurons
    core.synapses += syn
    return core


def _assign(graph: GraphLayers, profile: HardwareProfile) -> tuple[list[Core], dict[str, list[int]]]:
    free = [Core(i, n, s) for i, (n, s) in enumerate(profile.core_capacities())]
    used: list[Core] = []
    layer_cores: dict[str, list[int]] = {}
    pack = bool(profile.features["pack_layers"])
    for layer in graph.layers:
        synapses = layer_synapses(layer, profile)
        parts = _parts(layer, synapses, profile)
        bounds = np.linspace(0, layer.n_neurons, parts + 1).round().astype(int)
        ids = []
        for k in range(parts):
            core = _place(
                used, free, (layer.name, int(bounds[k]), int(bounds[k + 1])), math.ceil(synapses / parts), pack
            )
            if core is None:
                need = len(used) + parts - k
                raise _fail(profile, layer.name, "cores in total (network so far)", need, profile.total_cores)
            ids.append(core.core_id)
        layer_cores[layer.name] = sorted(set(ids))
    return sorted(used, key=lambda c: c.core_id), layer_cores


def quantise(weights: list[np.ndarray], bits: int) -> tuple[list[np.ndarray], Quantisation]:
    """Symmetric quantisation of arrays sharing one scale: integers and the error made."""
    levels = 2 ** (bits - 1) - 1 if bits > 1 else 1
    peak = max((float(np.abs(w).max()) for w in weights if w.size), default=0.0)
    scale = peak / levels if peak > 0 else 1.0
    ints = [np.clip(np.round(w / scale), -levels, levels).astype(np.int64) for w in weights]
    diff = np.concatenate([(w - q * scale).ravel() for w, q in zip(weights, ints)]) if weights else np.zeros(1)
    flat = np.concatenate([w.ravel() for w in weights]) if weights else np.zeros(1)
    norm = float(np.linalg.norm(flat))
    rel = float(np.linalg.norm(diff)) / norm if norm > 0 else 0.0
    info = Quantisation(bits, scale, float(np.sqrt(np.mean(diff**2))), float(np.abs(diff).max()), rel)
    return ints, info


def _quantise_layers(graph: GraphLayers, bits: int) -> dict[str, Quantisation]:
    out = {}
    for layer in graph.layers:
        weights = [np.asarray(p.weight, dtype=float) for p in layer.projections if p.weight is not None]
        if weights:
            out[layer.name] = quantise(weights, bits)[1]
    return out


def map_graph(graph: Any, profile: str | HardwareProfile, dt: float | None = None) -> Mapping:
    """Place a NIR graph on a chip.

    Args:
        graph: a ``nir.NIRGraph``.
        profile: profile name, YAML path or :class:`HardwareProfile`.
        dt: seconds per step when the graph's metadata lacks it (for Delay nodes).

    Raises:
        GraphError: the graph holds unsupported nodes.
        MappingError: a limit is broken; the message names the layer, the limit and the excess.
    """
    profile = load_profile(profile)
    layers = graph_layers(graph, dt)
    check_limits(layers, profile)
    cores, layer_cores = _assign(layers, profile)
    bits = int(profile.capacity["weight_bits"])
    return Mapping(profile.name, cores, layer_cores, _quantise_layers(layers, bits))


def quantised_graph(graph: Any, bits: int) -> Any:
    """A copy of ``graph`` whose weights are quantised (and de-quantised) per neuron layer."""
    import copy

    layers = graph_layers(graph)
    out = copy.deepcopy(graph)
    for layer in layers.layers:
        projections = [p for p in layer.projections if p.weight is not None]
        ints, info = quantise([np.asarray(p.weight, dtype=float) for p in projections], bits)
        for p, q in zip(projections, ints):
            node = out.nodes[p.node]
            node.weight = (q * info.scale).astype(np.asarray(node.weight).dtype)
    return out


def accuracy_change(graph: Any, profile: str | HardwareProfile, eval_fn: Callable[[Any], float]) -> dict[str, float]:
    """Accuracy before and after quantising to the chip's weight bits.

    Args:
        graph: a ``nir.NIRGraph``.
        profile: the chip whose ``weight_bits`` are used.
        eval_fn: takes a NIR graph and returns an accuracy (e.g. builds the model with
            ``snnlab.ir.from_nir`` and evaluates it).
    """
    bits = int(load_profile(profile).capacity["weight_bits"])
    before = float(eval_fn(graph))
    after = float(eval_fn(quantised_graph(graph, bits)))
    return {"bits": bits, "before": before, "after": after, "change": after - before}
