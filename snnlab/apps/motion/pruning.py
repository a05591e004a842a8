"""Accuracy against the number of synapses kept: pruning and shortening of a trained kernel.

Pruning keeps the fraction of synapses with the largest |weight| (no retraining); shortening
keeps every synapse whose delay is below a bound (only the most recent past). Both are
re-evaluated with the paper's decision rule (:func:`snnlab.apps.motion.train.evaluate`) and drawn
on one plot against the number of synapses kept (log axis). The half-saturation point is the
number of synapses at which accuracy crosses halfway between chance and the full kernel's
accuracy (log-linear interpolation between measured points).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from snnlab.analysis.plots import save_figure
from snnlab.apps.motion.model import HDSNN, prune_kernel, shorten_kernel
from snnlab.apps.motion.recipe import MotionRecipe
from snnlab.apps.motion.train import Log, evaluate, load_model, make_split, run_train, write_config
from snnlab.results import study_path, write_results


def _with_kernel(model: HDSNN, kernel: torch.Tensor) -> HDSNN:
    """A copy of ``model`` whose weights are ``kernel`` (C, P, K_T, K_XY, K_XY)."""
    pruned = copy.deepcopy(model)
    with torch.no_grad():
        pruned.weight.copy_(kernel)
    return pruned


def pruning_curve(
    model: HDSNN, voxels: torch.Tensor, labels: torch.Tensor, fractions: Sequence[float], recipe: MotionRecipe
) -> list[dict[str, float]]:
    """Accuracy after keeping each fraction of the largest-|w| synapses.

    Returns:
        One row per fraction: ``fraction``, ``n_synapses`` (kept), ``accuracy``,
        ``settled_accuracy`` (see :func:`snnlab.apps.motion.train.evaluate`).
    """
    rows = []
    kernel = model.kernel().detach()
    for fraction in fractions:
        pruned = _with_kernel(model, prune_kernel(kernel, fraction))
        rows.append(
            {"fraction": float(fraction), "n_synapses": pruned.n_synapses(), **evaluate(pruned, voxels, labels, recipe)}
        )
    return rows


def shortening_curve(
    model: HDSNN, voxels: torch.Tensor, labels: torch.Tensor, recipe: MotionRecipe
) -> list[dict[str, float]]:
    """Accuracy when only delays ``d < n`` are kept, for n = K_T, ..., 1.

    Returns:
        One row per bound: ``n_delays``, ``fraction`` (of the full kernel's synapses),
        ``n_synapses``, ``accuracy``, ``settled_accuracy``.
    """
    kernel = model.kernel().detach()
    total = max(1, int(torch.count_nonzero(kernel)))
    rows = []
    for n_delays in range(model.kernel_t, 0, -1):
        short = _with_kernel(model, shorten_kernel(kernel, n_delays))
        rows.append(
            {
                "n_delays": n_delays,
                "fraction": short.n_synapses() / total,
                "n_synapses": short.n_synapses(),
                **evaluate(short, voxels, labels, recipe),
            }
        )
    return rows


def half_saturation(rows: Sequence[dict[str, float]], chance: float) -> float | None:
    """Synapses at which accuracy falls to halfway between chance and the largest kernel's accuracy.

    Args:
        rows: curve rows with ``n_synapses`` and ``accuracy``.
        chance: chance accuracy.

    Returns:
        The interpolated number of synapses (log scale), or None if the curve never drops
        below the half level.
    """
    ordered = sorted(rows, key=lambda r: -r["n_synapses"])
    level = chance + 0.5 * (ordered[0]["accuracy"] - chance)
    for big, small in zip(ordered, ordered[1:]):
        if big["accuracy"] >= level > small["accuracy"]:
            a, b = math.log(max(big["n_synapses"], 1)), math.log(max(small["n_synapses"], 1))
            w = (big["accuracy"] - level) / (big["accuracy"] - small["accuracy"])
            return float(math.exp(a + w * (b - a)))
    return None


def plot_curves(
    pruned: Sequence[dict[str, float]], shortened: Sequence[dict[str, float]] | None, chance: float, path: Path
) -> Path:
    """Accuracy against synapses kept (log x): pruning, shortening and chance; PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.3))
    for rows, label, style in (
        (pruned, "pruning (largest |w| kept)", "o-"),
        (shortened, "shortening (short delays)", "s--"),
    ):
        if rows:
            ordered = sorted(rows, key=lambda r: r["n_synapses"])
            ax.plot([r["n_synapses"] for r in ordered], [100 * r["accuracy"] for r in ordered], style, label=label)
    ax.axhline(100 * chance, color="gray", lw=1, ls=":", label=f"chance ({100 * chance:.1f}%)")
    ax.set_xscale("log")
    ax.set_xlabel("synapses kept")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(
        loc="upper center", bbox_to_anchor=(0.5, -0.17), ncol=3, fontsize=8, frameon=False
    )  # below: no data hidden
    return save_figure(fig, path, dpi=120)


def trained_model(recipe: MotionRecipe, out: Path, log: Log) -> HDSNN:
    """The model of ``out/model.pt`` when it matches the recipe; otherwise train one first."""
    path = out / "model.pt"
    if path.exists():  # a file, or something in its place that load_model names
        log(f"using the trained model {path}")
        return load_model(recipe, path)
    log(f"no {path}: training first")
    run_train(recipe, out, log)
    return load_model(recipe, path)


def run_prune(recipe: MotionRecipe, out: Path, log: Log = print) -> dict[str, Any]:
    """Pruning (and shortening) study on the test split; writes ``out/prune.json`` and
    ``out/plots/pruning.png``."""
    model = trained_model(recipe, out, log)
    start = time.time()
    voxels, labels = make_split(recipe, "test")
    chance = 1.0 / recipe.movie.n_classes
    pruned = pruning_curve(model, voxels, labels, recipe.prune.fractions, recipe)
    shortened = shortening_curve(model, voxels, labels, recipe) if recipe.prune.shortening else None
    result = {
        "name": recipe.name,
        "chance": chance,
        "n_synapses_full": model.n_synapses(),
        "pruning": pruned,
        "shortening": shortened,
        "half_saturation_synapses": {
            "pruning": half_saturation(pruned, chance),
            "shortening": half_saturation(shortened, chance) if shortened else None,
        },
        "plot": str(plot_curves(pruned, shortened, chance, out / "plots" / "pruning.png")),
        "seconds": time.time() - start,
    }
    write_results(study_path(out, "prune"), result)
    write_config(out, recipe)
    return result
