"""Chip descriptor: what a chip toolchain needs to load a mapped network, as JSON.

The descriptor lists the cores (which neuron slices each holds), every neuron layer (type,
shape, parameters, cores) and its incoming synapse tables: quantised integer weights with
their shared scale, the source layer and the delay in steps. ``hw/descriptor.schema.json``
validates it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from snnlab.hw.graph import NeuronLayer, graph_layers
from snnlab.hw.mapping import Mapping, map_graph, quantise
from snnlab.hw.profiles import HardwareProfile, load_profile, validate

FORMAT = "snnlab-chip-descriptor"
VERSION = 1
NEURON_FIELDS = ("tau", "tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in")


def _params(node: Any) -> dict[str, list[float]]:
    out = {}
    for name in NEURON_FIELDS:
        value = getattr(node, name, None)
        if value is not None:
            out[name] = np.asarray(value, dtype=float).ravel().tolist()
    return out


def _synapses(layer: NeuronLayer, bits: int) -> list[dict[str, Any]]:
    weighted = [p for p in layer.projections if p.weight is not None]
    ints, info = quantise([np.asarray(p.weight, dtype=float) for p in weighted], bits)
    tables = []
    for p, q in zip(weighted, ints):
        tables.append(
            {
                "node": p.node,
                "op": p.op,
                "source": p.source,
                "delay_steps": p.delay_steps,
                "shape": list(q.shape),
                "scale": info.scale,
                "weight_bits": bits,
                "weights": q.ravel().tolist(),
                "nonzero": int((q != 0).sum()),
            }
        )
    for p in layer.projections:
        if p.weight is None:
            tables.append(
                {
                    "node": "",
                    "op": "Identity",
                    "source": p.source,
                    "delay_steps": p.delay_steps,
                    "shape": [],
                    "scale": 1.0,
                    "weight_bits": bits,
                    "weights": [],
                    "nonzero": 0,
                }
            )
    return tables


def descriptor(graph: Any, profile: str | HardwareProfile, mapping: Mapping | None = None) -> dict[str, Any]:
    """Build the chip descriptor of ``graph`` mapped on ``profile`` (mapped now if not given).

    Raises:
        GraphError, MappingError: the graph is unsupported or does not fit.
    """
    profile = load_profile(profile)
    mapping = mapping or map_graph(graph, profile)
    layers = graph_layers(graph)
    bits = int(profile.capacity["weight_bits"])
    metadata = getattr(graph, "metadata", None) or {}
    return {
        "format": FORMAT,
        "version": VERSION,
        "profile": profile.name,
        "dt": layers.dt,
        "weight_bits": bits,
        "inputs": [{"name": k, "shape": list(v)} for k, v in layers.inputs.items()],
        "cores": [
            {
                "id": c.core_id,
                "neurons": c.neurons,
                "synapses": c.synapses,
                "utilisation": c.utilisation,
                "slices": [{"layer": s[0], "start": s[1], "stop": s[2]} for s in c.slices],
            }
            for c in mapping.cores
        ],
        "layers": [
            {
                "name": l.name,
                "type": l.op,
                "shape": list(l.shape),
                "n_neurons": l.n_neurons,
                "cores": mapping.cores_for(l.name),
                "params": _params(graph.nodes[l.name]),
                "reset_mode": str((graph.nodes[l.name].metadata or {}).get("reset_mode", "zero")),
                "synapses": _synapses(l, bits),
            }
            for l in layers.layers
        ],
        "writer": str(metadata.get("writer", "")),
    }


def write_descriptor(graph: Any, profile_name: str | HardwareProfile, path: str | Path) -> Path:
    """Map ``graph`` on the chip, validate its descriptor against the schema and write it as JSON.

    Used by ``snnlab export RUN --to <profile>``. Returns the path written.
    """
    data = descriptor(graph, profile_name)
    validate(data, f"descriptor for {data['profile']}", schema="descriptor.schema.json")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)
    return path
