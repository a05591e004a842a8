"""Robustness and energy studies of the RRAM liquid-state machine.

One set of frames is loaded once; every point of a sweep builds a fresh RRAM reservoir with
one device parameter changed (``device_overrides``), extracts spike-count features and trains
the readout. Three sweeps:

- **variability** ``g_std_us``: the spread of formed conductances. The conductance-to-weight
  unit stays calibrated on the nominal profile, so a wider spread means larger random weights
  (a smaller one, a quieter reservoir);
- **read noise** ``read_noise``: relative std of every cell read, applied per step;
- **stuck-at** rate: a fraction of cells stuck, half at ``g_min`` (HRS), half at ``g_max`` (LRS).

Accuracy is averaged over the recipe's reservoir seeds. The energy study compares one
inference on the macro with the same reservoir on a digital accelerator
(:func:`snnlab.hw.rram.crossbar_energy`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from snnlab.analysis.plots import save_figure
from snnlab.apps.lsm.recipe import LSMRecipe
from snnlab.apps.lsm.tasks import Splits, build_lsm, evaluate_lsm, load_splits

SWEEPS: dict[str, tuple[str, Callable[[float], dict[str, float]]]] = {
    "g_std_us": ("device variability: conductance std (uS)", lambda v: {"g_std_us": v}),
    "read_noise": ("read noise (relative std per read)", lambda v: {"read_noise": v}),
    "stuck_at": ("stuck-at fault rate (half HRS, half LRS)", lambda v: {"stuck_at_hrs": v / 2, "stuck_at_lrs": v / 2}),
}


def _hardware(recipe: LSMRecipe) -> str:
    """The macro profile of the study: the recipe's, or the default 40 nm macro."""
    return recipe.lsm.get("hardware") or "rram_40nm"


def _point(recipe: LSMRecipe, splits: Splits, changes: dict[str, float]) -> dict[str, Any]:
    """Accuracy (mean and std over seeds) and firing rate of RRAM reservoirs with ``changes``."""
    base = dict(recipe.lsm.get("device_overrides") or {})
    runs = []
    for seed in recipe.study.seeds:
        lsm = build_lsm(
            recipe,
            splits["train"][0].shape[2],
            hardware=_hardware(recipe),
            device_overrides={**base, **changes},
            seed=seed,
        )
        runs.append(evaluate_lsm(lsm, splits, recipe.readout))
    acc = np.array([r["test_accuracy"] for r in runs])
    return {
        "test_accuracy": float(acc.mean()),
        "test_accuracy_std": float(acc.std()),
        "firing_rate": float(np.mean([r["firing_rate"] for r in runs])),
    }


def run_study(
    recipe: LSMRecipe, splits: Optional[Splits] = None, log: Callable[[str], None] = lambda line: None
) -> dict[str, Any]:
    """Software and nominal-RRAM baselines, the three sweeps, and the energy comparison.

    Args:
        recipe: the classification recipe; its ``study`` section lists the sweep values.
        splits: frames already loaded (``load_splits``); loaded from the recipe when None.
        log: called with one line per finished point (progress).

    Returns:
        ``{"baseline": {...}, "sweeps": {name: [{"value", "test_accuracy", ...}]}, "energy": {...}}``.
    """
    start = time.perf_counter()
    splits = splits or load_splits(recipe.data)
    n_inputs = splits["train"][0].shape[2]
    software = evaluate_lsm(build_lsm(recipe, n_inputs, hardware=None, device_overrides={}), splits, recipe.readout)
    nominal = evaluate_lsm(build_lsm(recipe, n_inputs, hardware=_hardware(recipe)), splits, recipe.readout)
    log(f"software {software['test_accuracy']:.3f}  rram nominal {nominal['test_accuracy']:.3f}")
    sweeps: dict[str, list[dict[str, Any]]] = {}
    for name, (_, changes) in SWEEPS.items():
        sweeps[name] = []
        for value in getattr(recipe.study, name):
            sweeps[name].append({"value": float(value), **_point(recipe, splits, changes(float(value)))})
            log(f"{name}={value}: {sweeps[name][-1]['test_accuracy']:.3f}")
    return {
        "hardware": _hardware(recipe),
        "seeds": list(recipe.study.seeds),
        "baseline": {"software": software["test_accuracy"], "rram_nominal": nominal["test_accuracy"]},
        "sweeps": sweeps,
        "energy": nominal["energy_per_inference_pj"],
        "seconds": time.perf_counter() - start,
    }


def plot_sweeps(study: dict[str, Any], path: Path) -> Path:
    """One PNG, three panels: test accuracy against each swept device parameter."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), sharey=True)
    for ax, (name, (label, _)) in zip(axes, SWEEPS.items()):
        points = study["sweeps"].get(name, [])
        x = [p["value"] for p in points]
        y = [100 * p["test_accuracy"] for p in points]
        err = [100 * p["test_accuracy_std"] for p in points]
        ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label="RRAM LSM")
        ax.axhline(100 * study["baseline"]["software"], color="grey", ls="--", label="software weights")
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("test accuracy (%)")
    axes[0].legend(loc="lower right")
    fig.suptitle(f"RRAM LSM robustness ({study['hardware']})")
    return save_figure(fig, path, dpi=120)


def plot_energy(energy: dict[str, float], path: Path) -> Path:
    """Bar chart of energy per inference: RRAM macro vs digital baseline, stacked by component."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stacks = {
        "RRAM macro": ["rram_cells_pj", "rram_drivers_pj", "rram_adcs_pj", "neuron_updates_pj"],
        "digital": ["digital_acs_pj", "digital_weight_reads_pj", "neuron_updates_pj"],
    }
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, (_name, parts) in enumerate(stacks.items()):
        bottom = 0.0
        for part in parts:
            value = energy[part] * 1e-6  # pJ -> uJ
            ax.bar(i, value, bottom=bottom, label=part.removesuffix("_pj").replace("_", " "))
            bottom += value
    ax.set_xticks(range(len(stacks)), list(stacks))
    ax.set_ylabel("energy per inference (uJ)")
    ax.set_title(f"reservoir energy: {energy['efficiency_gain']:.1f}x lower on RRAM")
    ax.legend(fontsize=8)
    return save_figure(fig, path, dpi=120)


def study_markdown(study: dict[str, Any]) -> str:
    """Markdown tables of the sweeps and the energy comparison."""
    lines = [
        f"software weights: {100 * study['baseline']['software']:.1f}%, "
        f"RRAM nominal: {100 * study['baseline']['rram_nominal']:.1f}%",
        "",
    ]
    for name, (label, _) in SWEEPS.items():
        lines += [f"| {label} | test accuracy (%) | firing rate |", "|---|---|---|"]
        lines += [
            f"| {p['value']:g} | {100 * p['test_accuracy']:.1f} | {p['firing_rate']:.3f} |"
            for p in study["sweeps"].get(name, [])
        ]
        lines.append("")
    e = study["energy"]
    lines += [
        "| energy per inference | RRAM macro | digital |",
        "|---|---|---|",
        f"| synaptic (uJ) | {e['rram_crossbar_pj'] * 1e-6:.3f} | "
        f"{(e['digital_acs_pj'] + e['digital_weight_reads_pj']) * 1e-6:.3f} |",
        f"| total with neuron updates (uJ) | {e['rram_total_pj'] * 1e-6:.3f} | {e['digital_pj'] * 1e-6:.3f} |",
        f"| gain | {e['efficiency_gain']:.1f}x total, {e['synaptic_gain']:.1f}x synaptic | |",
    ]
    return "\n".join(lines)
