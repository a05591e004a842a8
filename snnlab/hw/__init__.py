"""Hardware backend: chip profiles, mapping onto cores, energy and latency, chip descriptors.

Cost code here reads NIR graphs and activity profiles as data and imports no torch.
"""

from __future__ import annotations

from snnlab.hw.descriptor import descriptor, write_descriptor
from snnlab.hw.energy import (
    CostReport,
    LayerCost,
    ann_energy_j,
    ann_pass_macs,
    chip_label,
    estimate,
    spikformer_energy_j,
    ssa_acs,
)
from snnlab.hw.graph import graph_layers
from snnlab.hw.mapping import Mapping, accuracy_change, map_graph, quantise, quantised_graph
from snnlab.hw.profiles import HardwareProfile, available_profiles, load_profile

__all__ = [
    "CostReport",
    "HardwareProfile",
    "LayerCost",
    "Mapping",
    "accuracy_change",
    "ann_energy_j",
    "ann_pass_macs",
    "chip_label",
    "available_profiles",
    "descriptor",
    "estimate",
    "graph_layers",
    "load_profile",
    "map_graph",
    "quantise",
    "quantised_graph",
    "spikformer_energy_j",
    "ssa_acs",
    "write_descriptor",
]
