"""Figures of early exit: the (latency, accuracy) Pareto front and the exit-step histogram."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import torch

from snnlab.analysis.plots import save_figure
from snnlab.inference.calibrate import Calibration, SweepPoint


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_pareto(
    calibration: Calibration,
    path: Path,
    held_out: Optional[list[SweepPoint]] = None,
    oracle_point: Optional[tuple[float, float]] = None,
) -> Path:
    """Sweep points, Pareto front and chosen threshold (accuracy in %) against mean latency (steps)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.0))
    pts = calibration.points
    ax.scatter(
        [p.mean_latency for p in pts],
        [100 * p.accuracy for p in pts],
        s=12,
        c="0.6",
        label="thresholds (validation split)",
    )
    front = calibration.front
    ax.plot([p.mean_latency for p in front], [100 * p.accuracy for p in front], "-o", ms=4, label="Pareto front")
    if held_out:
        ax.plot(
            [p.mean_latency for p in held_out],
            [100 * p.accuracy for p in held_out],
            "--",
            c="tab:green",
            label="same thresholds (test split, reported)",
        )
    c = calibration.chosen
    ax.scatter(
        [c.mean_latency],
        [100 * c.accuracy],
        marker="*",
        s=160,
        c="tab:red",
        zorder=5,
        label=f"chosen: threshold {c.threshold:g}",
    )
    ax.axhline(100 * calibration.accuracy_t_max, ls=":", c="k", label=f"T_max = {calibration.t_max} steps (validation)")
    if oracle_point is not None:
        ax.scatter([oracle_point[0]], [100 * oracle_point[1]], marker="D", c="tab:purple", label="oracle")
    anchors = [c.accuracy, calibration.accuracy_t_max] + ([oracle_point[1]] if oracle_point is not None else [])
    _zoom(ax, anchors, [p.accuracy for p in pts] + [p.accuracy for p in held_out or []])
    ax.set_xlabel("mean latency (steps)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("Dynamic confidence: latency vs accuracy")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))  # outside: no point hidden
    return save_figure(fig, path, dpi=120)


def _zoom(ax, anchors: list[float], others: list[float], window: float = 0.05) -> None:
    """Zoom the accuracy axis (%) on the operating points instead of spanning every threshold.

    ``anchors`` (chosen point, T_max, oracle) are always shown, with every other point no more
    than ``window`` below the lowest anchor; points further down are off the axis, and a note says so.
    """
    floor = min(anchors) - window
    shown = [100 * a for a in anchors + [o for o in others if o >= floor]]
    lo, hi = min(shown), max(shown)
    pad = max(0.5, 0.15 * (hi - lo))
    ax.set_ylim(max(0.0, lo - pad), min(100.0, hi + pad))
    hidden = [o for o in others if 100 * o < lo - pad]
    if hidden:
        ax.text(
            0.99,
            0.01,
            f"{len(hidden)} points below {lo - pad:.0f} % off the axis",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=7,
            color="0.4",
        )


def plot_latency_hist(
    exit_steps: torch.Tensor, t_max: int, path: Path, oracle_steps: Optional[torch.Tensor] = None
) -> Path:
    """Histogram of per-sample exit steps (and of the oracle's), one bin per step."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    bins = [b + 0.5 for b in range(t_max + 1)]
    ax.hist(
        exit_steps.cpu().numpy(),
        bins=bins,
        alpha=0.75,
        label=f"dynamic confidence (mean {float(exit_steps.float().mean()):.2f})",
    )
    if oracle_steps is not None:
        ax.hist(
            oracle_steps.cpu().numpy(),
            bins=bins,
            histtype="step",
            lw=1.5,
            label=f"oracle (mean {float(oracle_steps.float().mean()):.2f})",
        )
    ax.set_xlabel("exit step")
    ax.set_ylabel("samples")
    ax.set_xlim(0.5, t_max + 0.5)
    ax.legend(fontsize=8)
    return save_figure(fig, path, dpi=120)
