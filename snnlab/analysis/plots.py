"""Report figures: per-layer energy, SNN vs ANN energy, firing rates, spike raster, core utilisation.

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


def layer_labels(names: list[str], kinds: dict[str, str]) -> dict[str, str]:
    """Readable legend labels for profile layers: ``synapses 1``, ``neurons 1``, ``synapses 2``...

    Layers are numbered per kind in network order; the internal module or node name is dropped.
    """
    words = {"synapse": "synapses", "neuron": "neurons", "attention": "attention", "other": "other"}
    counts: dict[str, int] = {}
    labels = {}
    for name in names:
        kind = kinds.get(name, "other")
        counts[kind] = counts.get(kind, 0) + 1
        labels[name] = f"{words.get(kind, kind)} {counts[kind]}"
    return labels


def _chip_label(report: Any) -> str:
    name = getattr(report, "label", report.hardware)
    return name if getattr(report, "fits", True) else f"{name} (does not fit)"


def energy_breakdown(reports: list[Any], path: Path) -> Path:
    """Per chip, the share of each layer (and static power) in the energy per inference.

    Bars are normalised to 100 % so chips whose totals differ by orders of magnitude stay
    readable; the absolute total is written at the end of each bar. A chip the network does not
    fit is labelled so and hatched (its figure is what it would cost if it fitted).
    """
    plt, (fig, ax) = _figure(7.5, 4.2)
    names = [_chip_label(r) for r in reports]
    layers = list(dict.fromkeys(l.name for r in reports for l in r.layers))
    labels = layer_labels(layers, {l.name: l.kind for r in reports for l in r.layers})
    parts = [
        (labels[layer], np.array([sum(l.total_j for l in r.layers if l.name == layer) for r in reports]))
        for layer in layers
    ] + [("static power", np.array([r.static_j for r in reports]))]
    totals = np.maximum(sum(v for _, v in parts), 1e-30)
    hatch = ["//" if not getattr(r, "fits", True) else "" for r in reports]
    left = np.zeros(len(reports))
    for label, values in parts:
        share = 100.0 * values / totals
        ax.barh(
            names,
            share,
            left=left,
            label=label,
            hatch=hatch,
            edgecolor="white",
            color="lightgrey" if label == "static power" else None,
        )
        left += share
    for i, total in enumerate(totals):
        ax.text(101, i, energy_label(total), va="center", fontsize="small")
    ax.set_xlim(0, 125)
    ax.set_xticks(range(0, 101, 20))
    ax.set_xlabel("share of energy per inference (%)")
    ax.set_title("Energy per layer and chip (total per inference at the right)")
    ax.invert_yaxis()
    ax.legend(fontsize="small", ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.15))
    return _save(plt, fig, path)


def energy_label(joules: float) -> str:
    """``joules`` with an SI prefix: ``7.44 µJ``."""
    for scale, unit in ((1.0, "J"), (1e-3, "mJ"), (1e-6, "µJ"), (1e-9, "nJ")):
        if joules >= scale:
            return f"{joules / scale:.3g} {unit}"
    return f"{joules / 1e-12:.3g} pJ"


# Bar colours of snn_vs_ann by what the bar is.
_GROUPS = {
    "ann": ("tab:red", "ANN, one dense pass (45 nm MACs)"),
    "snn": ("tab:blue", "SNN, 45 nm MAC/AC convention (arithmetic only)"),
    "reads": ("tab:cyan", "SNN, 45 nm chip model cmos45 (+ weight reads, neuron updates)"),
    "chip": ("tab:green", "SNN on a neuromorphic chip / GPU model"),
    "misfit": ("0.75", "chip model, network does not fit"),
}


def snn_vs_ann(ann_j: float, snn_j: float, chips: list[Any], path: Path) -> Path:
    """Horizontal bars (log scale, µJ): the ANN baseline, the SNN by the 45 nm convention, each chip.

    Args:
        ann_j: one dense pass of the same weights, every operation a 45 nm MAC (arithmetic only).
        snn_j: the SNN by the same convention (MACs on real-valued inputs, ACs on spikes).
        chips: cost reports (``hardware``, ``total_j``, ``fits``); ``cmos45`` is the 45 nm chip
            model, which adds weight reads and neuron updates to the arithmetic.
        path: PNG to write.
    """
    plt, (fig, ax) = _figure(7.5, 2.6 + 0.4 * (len(chips) + 2))
    rows = [("ANN, one pass, 45 nm", ann_j, "ann"), ("SNN, 45 nm arithmetic only", snn_j, "snn")]
    ordered = sorted(chips, key=lambda r: r.hardware != "cmos45")  # the 45 nm chip model next to its convention
    for r in ordered:
        fits = getattr(r, "fits", True)
        name = "SNN, 45 nm with weight reads" if r.hardware == "cmos45" else _chip_label(r)
        group = "misfit" if not fits else ("reads" if r.hardware == "cmos45" else "chip")
        rows.append((name, r.total_j, group))
    values = np.maximum(np.array([v for _, v, _ in rows]) * 1e6, 1e-9)
    ax.barh(
        [n for n, _, _ in rows],
        values,
        color=[_GROUPS[g][0] for _, _, g in rows],
        hatch=["//" if g == "misfit" else "" for _, _, g in rows],
        edgecolor="white",
    )
    for i, (_, joules, _) in enumerate(rows):
        ax.text(values[i] * 1.15, i, energy_label(joules), va="center", fontsize="small")
    ax.set_xscale("log")
    ax.set_xlim(values.min() / 3, values.max() * 20)
    ax.invert_yaxis()
    ax.set_xlabel("energy per inference (µJ, log scale)")
    ax.set_title("SNN vs ANN energy per inference")
    used = dict.fromkeys(g for _, _, g in rows)
    handles = [plt.Rectangle((0, 0), 1, 1, color=_GROUPS[g][0], hatch="//" if g == "misfit" else "") for g in used]
    ax.legend(
        handles,
        [_GROUPS[g][1] for g in used],
        fontsize="small",
        loc="upper center",
        bbox_to_anchor=(0.4, -0.12 - 0.5 / len(rows)),
        ncol=1,
        frameon=False,
    )
    return _save(plt, fig, path)


def firing_rates(activity: ActivityProfile, spikes: dict[str, np.ndarray] | None, path: Path) -> Path:
    """Histogram of per-neuron firing rates (from a raster) or of per-layer rates (from counts)."""
    plt, (fig, ax) = _figure()
    if spikes:
        labels = layer_labels(list(spikes), {name: "neuron" for name in spikes})
        for name, raster in spikes.items():
            arr = np.asarray(raster, dtype=float)
            rates = arr.reshape(arr.shape[0], -1, arr.shape[-1]).mean(axis=(0, 1)) if arr.ndim > 2 else arr.mean(axis=0)
            ax.hist(rates, bins=20, range=(0, 1), alpha=0.6, label=f"{labels[name]} ({arr.shape[-1]} neurons)")
        ax.set_xlabel("firing rate (spikes per neuron per step)")
    else:
        neurons = [l for l in activity.layers if l.kind == "neuron"]
        ax.bar([l.name for l in neurons], [l.output_rate for l in neurons])
        ax.set_xlabel("layer")
    ax.set_ylabel("neurons" if spikes else "spikes per neuron per step")
    ax.set_title("Firing rate of each neuron (recorded samples)" if spikes else "Firing rate per layer")
    if spikes:
        ax.legend(fontsize="small")
    return _save(plt, fig, path)


def raster(spikes: dict[str, np.ndarray], path: Path) -> Path:
    """Spike raster of the first sample, one panel per layer (time on x, neuron on y).

    The report draws it only when training has not written ``plots/spike_raster.png`` already.
    """
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
    """Per chip: mean neuron utilisation of the used cores (bar), min-max range, core count."""
    plt, (fig, ax) = _figure(7.0, 1.4 + 0.45 * max(len(mappings), 1))
    names = list(mappings)
    values = [np.array([c.utilisation for c in mappings[n].cores], dtype=float) for n in names]
    means = [100 * v.mean() if v.size else 0.0 for v in values]
    lo = [m - 100 * v.min() if v.size else 0.0 for m, v in zip(means, values)]
    hi = [100 * v.max() - m if v.size else 0.0 for m, v in zip(means, values)]
    ax.barh(names, means, xerr=[lo, hi], color="tab:purple", alpha=0.8, capsize=3)
    for i, v in enumerate(values):
        ax.text(101, i, f"{means[i]:.1f} %, {v.size} core{'s' if v.size != 1 else ''}", va="center", fontsize="small")
    ax.set_xlim(0, 125)
    ax.set_xticks(range(0, 101, 20))
    ax.invert_yaxis()
    ax.set_xlabel("neurons placed / neuron capacity of a used core (%): mean, bars min to max")
    ax.set_title("Core utilisation per chip")
    return _save(plt, fig, path)
