"""Activity profile: per-layer counts of what a network did on some input.

This is the data contract between what measures activity (dense forward hooks in
:mod:`snnlab.analysis`, or the event-driven simulator :mod:`snnlab.sim`) and what prices it
(:mod:`snnlab.hw` cost models). Counts are totals over all samples and time steps of the run;
:meth:`ActivityProfile.per_inference` divides by the number of samples. It lives in ``ir``
beside the flattened graph so that sim and hw (no torch, no analysis) read it as plain data.

Operation counts follow NeuroBench: a synapse layer whose input is real-valued performs
multiply-accumulates (``macs``); one whose input is binary spikes performs accumulates
(``acs``), one per non-zero input times its fan-out (effective synaptic operations).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

LAYER_KINDS = ("synapse", "neuron", "attention", "other")


@dataclass
class LayerActivity:
    """Counts for one layer (a NIR node or a torch module)."""

    name: str  # node key in the NIR graph, or module path in the torch model
    kind: str  # one of LAYER_KINDS
    op: str = ""  # node/module type, e.g. "Affine", "Conv2d", "LIF"
    n_neurons: int = 0  # output units of a neuron layer
    n_synapses: int = 0  # stored weights of a synapse layer (non-zero connections)
    dense_ops: float = 0.0  # dense MACs of one sample over all steps (synapse layers)
    macs: float = 0.0  # effective multiply-accumulates (real-valued input), all samples and steps
    acs: float = 0.0  # effective accumulates (spiking input), all samples and steps
    neuron_updates: float = 0.0  # membrane state updates, all samples and steps
    spikes: float = 0.0  # spikes emitted, all samples and steps
    input_rate: float = 0.0  # fraction of non-zero inputs (activation density), in [0, 1]
    output_rate: float = 0.0  # spikes per neuron per step, in [0, 1] for neuron layers
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. fan_in, fan_out, delays, shape

    @property
    def synaptic_ops(self) -> float:
        """Effective synaptic operations (MACs plus ACs)."""
        return self.macs + self.acs


@dataclass
class ActivityProfile:
    """Per-layer activity of one run of ``samples`` inputs over ``timesteps`` steps."""

    samples: int
    timesteps: int
    dt: float | None  # seconds per step, when known
    layers: list[LayerActivity]
    source: str = "dense"  # "dense" (torch hooks) or "event" (event-driven simulator)
    meta: dict[str, Any] = field(default_factory=dict)  # model-level metrics (footprint, sparsity)

    def per_inference(self) -> ActivityProfile:
        """The same profile scaled to one sample."""
        scale = 1.0 / max(self.samples, 1)
        summed = ("macs", "acs", "neuron_updates", "spikes")
        layers = []
        for layer in self.layers:
            values = asdict(layer)
            for key in summed:
                values[key] = values[key] * scale
            layers.append(LayerActivity(**values))
        return ActivityProfile(1, self.timesteps, self.dt, layers, self.source, dict(self.meta))

    def totals(self) -> dict[str, float]:
        """Sums over layers of every count."""
        keys = ("macs", "acs", "neuron_updates", "spikes", "n_synapses", "n_neurons")
        return {k: float(sum(getattr(layer, k) for layer in self.layers)) for k in keys}

    def layer(self, name: str) -> LayerActivity:
        """The layer called ``name``; KeyError lists the valid names."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"no layer {name!r}; layers are {[l.name for l in self.layers]}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "timesteps": self.timesteps,
            "dt": self.dt,
            "source": self.source,
            "layers": [asdict(layer) for layer in self.layers],
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ActivityProfile:
        known = {f.name for f in fields(LayerActivity)}
        layers = [LayerActivity(**{k: v for k, v in d.items() if k in known}) for d in data["layers"]]
        return cls(
            int(data["samples"]),
            int(data["timesteps"]),
            data.get("dt"),
            layers,
            data.get("source", "dense"),
            dict(data.get("meta", {})),
        )

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load(cls, path: str | Path) -> ActivityProfile:
        """Read ``activity.json``; a damaged file is one DataError naming it."""
        from snnlab.errors import DataError, SnnlabError, one_line

        path = Path(path)
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except SnnlabError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as err:  # JSON, encoding, schema
            raise DataError(
                f"{path}: not a readable activity profile ({type(err).__name__}: {one_line(err)[:120]}); "
                "write it again with snnlab eval RUN"
            ) from None
