"""Report figures: per-layer energy, SNN vs ANN energy, firing rates, spike raster, core use.

Each function writes one PNG and returns its path; matplotlib runs headless (Agg).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from snnlab.ir.activity import ActivityProfile


def _figure(width: float = 7.0, height: float = 4.0):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt, plt.subplots(figsize=(width, height))


def save_figure(fig: Any, path: Path, dpi: int = 120) -> Path:
    """Lay out, write (creating the folder) and close a matplotlib figure; returns ``path``."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def _save(plt, fig, path: Path) -> Path:
    return save_figure(fig, path, dpi=100)


def energy_breakdown(reports: list[Any], path: Path) -> Path:
    """Per chip, the share of each layer (and static power) in the energy per inference.

    Bars are normalised to 100 % so chips whose totals differ by orders of magnitude stay
    readable; the absolute total is written at the end of each bar.
    """
    plt, (fig, ax) = _figure()
    names = [r.hardware for r in reports]
    layers = list(dict.fromkeys(l.name for r in reports for l in r.layers))
    parts = [(layer, np.array([sum(l.total_j for l in r.layers if l.name == layer) for r in reports]))
             for layer in layers] + [("static", np.array([r.static_j for r in reports]))]
    totals = np.maximum(sum(v for _, v in parts), 1e-30)
    left = np.zeros(len(reports))
    for label, values in parts:
        share = 100.0 * values / totals
        ax.barh(names, share, left=left, label=label, color="lightgrey" if label == "static" else None)
        left += share
    for i, total in enumerate(totals):
        ax.text(101, i, _energy_label(total), va="center", fontsize="small")
    ax.set_xlim(0, 125)
    ax.set_xlabel("share of energy per inference (%)")
    ax.set_title("Energy per layer and chip (total per inference at the right)")
    ax.invert_yaxis()
    ax.legend(fontsize="small", ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.15))
    return _save(plt, fig, path)


def _energy_label(joules: float) -> str:
    for scale, unit in ((1.0, "J"), (1e-3, "mJ"), (1e-6, "uJ"), (1e-9, "nJ")):
        if joules >= scale:
            return f"{joules / scale:.3g} {unit}"
    return f"{joules / 1e-12:.3g} pJ"


def snn_vs_ann(ann_j: float, snn_j: float, chips: dict[str, float], path: Path) -> Path:
    """Bars: the ANN baseline (every op a 45 nm MAC), the SNN by the Spikformer rule, each chip."""
    plt, (fig, ax) = _figure()
    labels = ["ANN (cmos45, all MAC)", "SNN (cmos45, MAC+AC)"] + list(chips)
    values = np.array([ann_j, snn_j] + list(chips.values())) * 1e6
    ax.bar(labels, np.maximum(values, 1e-12), color=["tab:red", "tab:blue"] + ["tab:green"] * len(chips))
    ax.set_yscale("log")
    ax.set_ylabel("energy per inference (uJ)")
    ax.set_title("SNN vs ANN energy")
    ax.tick_params(axis="x", rotation=30)
    return _save(plt, fig, path)


def firing_rates(activity: ActivityProfile, spikes: dict[str, np.ndarray] | None, path: Path) -> Path:
    """Histogram of per-neuron firing rates (from a raster) or of per-layer rates (from counts)."""
    plt, (fig, ax) = _figure()
    if spikes:
        for name, raster in spikes.items():
            arr = np.asarray(raster, dtype=float)
            rates = arr.reshape(arr.shape[0], -1, arr.shape[-1]).mean(axis=(0, 1)) if arr.ndim > 2 else arr.mean(axis=0)
            ax.hist(rates, bins=20, range=(0, 1), alpha=0.6, label=name)
        ax.set_xlabel("firing rate (spikes per neuron per step)")
    else:
        neurons = [l for l in activity.layers if l.kind == "neuron"]
        ax.bar([l.name for l in neurons], [l.output_rate for l in neurons])
        ax.set_xlabel("layer")
    ax.set_ylabel("count" if spikes else "spikes per neuron per step")
    ax.set_title("Firing rates")
    if spikes:
        ax.legend(fontsize="small")
    return _save(plt, fig, path)


def raster(spikes: dict[str, np.ndarray], path: Path) -> Path:
    """Spike raster of the first sample, one panel per layer (time on x, neuron on y)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(spikes), 1, figsize=(7, 1.8 * len(spikes) + 1), squeeze=False)
    for ax, (name, data) in zip(axes[:, 0], spikes.items()):
        arr = np.asarray(data)
        first = arr[:, 0].reshape(arr.shape[0], -1) if arr.ndim > 2 else arr.reshape(arr.shape[0], -1)
        t, n = np.nonzero(first)
        ax.scatter(t, n, s=2, marker="|", color="black")
        ax.set_ylabel(name)
        ax.set_xlim(-0.5, first.shape[0] - 0.5)
    axes[-1, 0].set_xlabel("time step")
    fig.suptitle("Spike raster (sample 0)")
    return _save(plt, fig, path)


def utilisation(mappings: dict[str, Any], path: Path) -> Path:
    """Neuron utilisation of every used core, per chip."""
    plt, (fig, ax) = _figure()
    for name, mapping in mappings.items():
        values = [c.utilisation for c in mapping.cores]
        ax.plot(range(len(values)), values, marker="o", label=f"{name} ({len(values)} cores)")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("used core")
    ax.set_ylabel("neuron utilisation")
    ax.set_title("Core utilisation")
    if mappings:
        ax.legend(fontsize="small")
    return _save(plt, fig, path)
