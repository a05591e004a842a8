"""Energy per inference from an activity profile: the Spikformer convention and chip models.

**Spikformer family** (the 45 nm, 0.9 V energies of Horowitz's ISSCC 2014 table, as
Spikformer, Zhou et al. ICLR 2023, uses them): a synapse layer with real-valued
input is charged ``E_MAC = 4.6 pJ`` per MAC, one with spike input ``E_AC = 0.9 pJ`` per
effective accumulate (fr_in x T x FLOPs); spiking self-attention adds
``T * H * N * d_h^2 * (fr_q + min(fr_k, fr_v))`` ACs per block. Neuron updates and memory
traffic are ignored. ``E = E_MAC * N_MAC + E_AC * N_AC``.

**ANN baseline** ("the same network as an ANN"): one dense forward pass of the same weights,
every synaptic operation a MAC: ``E_ANN = E_MAC * (dense MACs of one time step)``. An ANN runs
once per input, not once per SNN time step, so the SNN's T steps are not multiplied in. Like the
SNN figure of this convention it counts arithmetic only (no weight reads, no activations).

**Chip model**: per layer, ``ACs * synop_j + MACs * mac_j`` (``synop_j`` when the chip has no
MAC figure: a real-valued input is sent as one event per non-zero value) ``+ updates *
neuron_update_j + spikes * spike_routed_j + synops * weight_read_j``; plus ``static_power_w``
times the latency. A dense-compute chip (GPU) is charged on dense MACs whatever the sparsity.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from snnlab.hw import latency as lat
from snnlab.hw.profiles import HardwareProfile, load_profile
from snnlab.ir.activity import ActivityProfile, LayerActivity

E_MAC_45NM = 4.6e-12  # J, 32-bit FP mult 3.7 pJ + add 0.9 pJ (Horowitz, ISSCC 2014)
E_AC_45NM = 0.9e-12  # J, 32-bit FP add (Horowitz, ISSCC 2014)
SPIKFORMER_TITLE = "45 nm MAC/AC convention, arithmetic only (Horowitz 2014 energies)"


@dataclass
class LayerCost:
    """Energy of one layer for one inference, and its per-step core time."""

    name: str
    kind: str
    synaptic_j: float = 0.0
    neuron_j: float = 0.0
    routing_j: float = 0.0
    memory_j: float = 0.0
    step_time_s: float = 0.0
    cores: int = 0

    @property
    def total_j(self) -> float:
        return self.synaptic_j + self.neuron_j + self.routing_j + self.memory_j


@dataclass
class CostReport:
    """Energy and latency of one inference on one chip, with a per-layer breakdown."""

    hardware: str
    method: str  # "chip" or "spikformer"
    layers: list[LayerCost]
    static_j: float
    latency_s: float
    time_per_step_s: float
    steps: int
    fits: bool = True
    mapping_error: str = ""
    utilisation: float | None = None  # mean neuron utilisation of the used cores
    cores_used: int | None = None
    assumptions: list[str] = field(default_factory=list)
    title: str = ""  # what the figures are: the profile's title, or the convention's name
    caveat: str = ""  # printed beside every energy of this chip (profile's ``energy_caveat``)

    @property
    def label(self) -> str:
        """The chip's name with its caveat, e.g. ``loihi2 (Loihi 1 per-op energies)``."""
        return f"{self.hardware} ({self.caveat})" if self.caveat else self.hardware

    @property
    def dynamic_j(self) -> float:
        return sum(layer.total_j for layer in self.layers)

    @property
    def total_j(self) -> float:
        return self.dynamic_j + self.static_j

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for item, layer in zip(data["layers"], self.layers):
            item["total_j"] = layer.total_j
        data.update(dynamic_j=self.dynamic_j, total_j=self.total_j, label=self.label)
        return data


def chip_label(hw_profile: Any) -> str:
    """A profile's name with its ``energy_caveat`` (``loihi2 (Loihi 1 per-op energies)``), for any printed energy.

    A name that is no profile (e.g. a convention's key such as ``cmos45_mac_ac``) is returned as is.
    """
    from snnlab.errors import ProfileError

    try:
        profile = load_profile(hw_profile)
    except ProfileError:
        return str(hw_profile)
    caveat = profile.raw.get("energy_caveat")
    return f"{profile.name} ({caveat})" if caveat else profile.name


def ssa_acs(timesteps: int, heads: int, tokens: int, d_head: int, fr_q: float, fr_k: float, fr_v: float) -> float:
    """ACs of one spiking self-attention block, ``T * H * N * d_h^2 * (fr_q + min(fr_k, fr_v))``."""
    return timesteps * heads * tokens * d_head**2 * (fr_q + min(fr_k, fr_v))


def spikformer_energy_j(macs: float, acs: float, e_mac: float = E_MAC_45NM, e_ac: float = E_AC_45NM) -> float:
    """``E = E_MAC * N_MAC + E_AC * N_AC`` in joules."""
    return e_mac * macs + e_ac * acs


def ann_pass_macs(activity: ActivityProfile) -> float:
    """MACs of one dense forward pass of the same weights, per sample (one time step of ``dense_ops``)."""
    steps = max(int(activity.timesteps), 1)
    return sum(layer.dense_ops for layer in activity.layers if layer.kind != "neuron") / steps


def ann_energy_j(activity: ActivityProfile, e_mac: float = E_MAC_45NM) -> float:
    """Energy per inference of the ANN baseline: one dense pass, every operation a MAC (see the module docstring)."""
    return e_mac * ann_pass_macs(activity)


def _scaled(activity: ActivityProfile, steps: int | None) -> tuple[ActivityProfile, float]:
    one = activity.per_inference()
    used = one.timesteps if steps is None else steps
    return one, (used / one.timesteps if one.timesteps else 1.0)


def spikformer_estimate(activity: ActivityProfile, steps: int | None = None) -> CostReport:
    """Energy per inference by the Spikformer-family convention (no latency model)."""
    one, scale = _scaled(activity, steps)
    layers = [
        LayerCost(l.name, l.kind, synaptic_j=scale * spikformer_energy_j(l.macs, l.acs))
        for l in one.layers
        if l.macs or l.acs
    ]
    used = one.timesteps if steps is None else steps
    return CostReport("cmos45", "spikformer", layers, 0.0, 0.0, 0.0, used, title=SPIKFORMER_TITLE)


def _layer_energy(layer: LayerActivity, profile: HardwareProfile, scale: float) -> LayerCost:
    e = profile.energy
    if profile.features.get("dense_compute"):
        ops_mac, ops_ac = (layer.dense_ops, 0.0) if layer.kind != "neuron" else (0.0, 0.0)
    else:
        ops_mac, ops_ac = layer.macs, layer.acs
    synaptic = ops_ac * e["synop_j"] + ops_mac * e.get("mac_j", e["synop_j"])
    memory = (ops_ac + ops_mac) * e.get("weight_read_j", 0.0)
    return LayerCost(
        layer.name,
        layer.kind,
        synaptic_j=scale * synaptic,
        neuron_j=scale * layer.neuron_updates * e["neuron_update_j"],
        routing_j=scale * layer.spikes * e["spike_routed_j"],
        memory_j=scale * memory,
    )


def chip_estimate(
    activity: ActivityProfile, profile: HardwareProfile, mapping: Any = None, steps: int | None = None
) -> CostReport:
    """Energy and latency per inference of ``activity`` on ``profile``."""
    one, scale = _scaled(activity, steps)
    used = one.timesteps if steps is None else steps
    cores = lat.layer_cores(one, profile, mapping)
    times = lat.layer_step_times(one, profile, mapping)
    layers = []
    for layer in one.layers:
        cost = _layer_energy(layer, profile, scale)
        cost.step_time_s, cost.cores = times[layer.name], cores[layer.name]
        layers.append(cost)
    step = lat.step_time(one, profile, mapping)
    latency_s = step * used
    chips = int(profile.capacity["chips"])
    report = CostReport(
        profile.name, "chip", layers, profile.energy["static_power_w"] * chips * latency_s, latency_s, step, used
    )
    report.assumptions, report.title = profile.assumptions(), profile.title
    report.caveat = str(profile.raw.get("energy_caveat", ""))
    if mapping is not None:
        report.utilisation, report.cores_used = mapping.mean_utilisation(), len(mapping.cores)
    return report


def estimate(
    source: Any, hw_profile: Any, mapping: Any = None, steps: int | None = None, method: str = "chip"
) -> CostReport:
    """Estimate energy and latency per inference.

    Args:
        source: an :class:`ActivityProfile`, or a ``(nir.NIRGraph, ActivityProfile)`` pair; with a
            graph and no ``mapping`` the graph is mapped first and a network that does not fit is
            reported with ``fits=False`` and the reason.
        hw_profile: profile name, YAML path or :class:`HardwareProfile`.
        mapping: a :class:`snnlab.hw.mapping.Mapping` (cores per layer for the latency model).
        steps: time steps actually used (fewer with early exit); defaults to the profile's.
        method: ``"chip"`` (the chip's own model) or ``"spikformer"`` (45 nm MAC/AC convention).

    Returns:
        A :class:`CostReport` for one inference.
    """
    graph, activity = source if isinstance(source, tuple) else (None, source)
    if not isinstance(activity, ActivityProfile):
        raise TypeError(f"estimate needs an ActivityProfile or (graph, ActivityProfile), got {type(activity).__name__}")
    if method == "spikformer":
        return spikformer_estimate(activity, steps)
    if method != "chip":
        raise ValueError(f"method must be 'chip' or 'spikformer', got {method!r}")
    profile = load_profile(hw_profile)
    error = ""
    if graph is not None and mapping is None:
        from snnlab.errors import MappingError
        from snnlab.hw.mapping import map_graph

        try:
            mapping = map_graph(graph, profile)
        except MappingError as err:
            error = str(err)
    report = chip_estimate(activity, profile, mapping, steps)
    report.fits, report.mapping_error = not error, error
    return report
