"""Figures of a run, written to ``runs/<name>/plots/``: training curves, a spike raster per
layer for one test sample, and per-layer firing rates. Uses matplotlib's Agg backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from snnlab.analysis.plots import save_figure


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_curves(history: list[dict[str, float]], path: Path) -> Path:
    """Loss and accuracy per epoch (train, and valid or test: the split evaluated every epoch)."""
    plt = _pyplot()
    epochs = [row["epoch"] for row in history]
    splits = [s for s in ("train", "valid", "test") if any(f"{s}_acc" in row for row in history)]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.4))
    for split in splits:
        ax_loss.plot(epochs, [row.get(f"{split}_loss", np.nan) for row in history], marker="o", label=split)
        ax_acc.plot(epochs, [100 * row.get(f"{split}_acc", np.nan) for row in history], marker="o", label=split)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    return save_figure(fig, path, dpi=110)


def plot_raster(
    spikes: dict[str, np.ndarray],
    inputs: np.ndarray,
    label: int,
    pred: int,
    path: Path,
    sample: int = 0,
    dt: float | None = None,
) -> Path:
    """Input events and each spiking layer's spikes for one sample (neuron index vs time step).

    Args:
        spikes: layer name -> (T, B, N) uint8.
        inputs: (T, B, F) input of the same batch (non-zero entries are drawn as events).
        label, pred: true and predicted class of the sample.
        sample: which batch entry to draw.
        dt: seconds per step, for the axis label.
    """
    plt = _pyplot()
    panels = [("input", inputs[:, sample])] + [(name, s[:, sample]) for name, s in spikes.items()]
    fig, axes = plt.subplots(len(panels), 1, figsize=(7, 1.6 + 1.5 * len(panels)), sharex=True, squeeze=False)
    for ax, (name, data) in zip(axes[:, 0], panels):
        t_idx, n_idx = np.nonzero(data)  # data (T, N)
        ax.scatter(t_idx, n_idx, s=2, marker="|", color="black" if name != "input" else "tab:blue")
        rate = float((data != 0).mean())
        ax.set(ylabel="neuron", ylim=(-0.5, data.shape[1] - 0.5), title=f"{name}  ({rate:.3f} events/neuron/step)")
    unit = f"time step (dt = {dt * 1e3:.3g} ms)" if dt and np.isfinite(dt) else "time step"
    axes[-1, 0].set_xlabel(unit)
    fig.suptitle(f"test sample {sample}: label {label}, predicted {pred}")
    return save_figure(fig, path, dpi=110)


def plot_rates(rates: dict[str, float], path: Path) -> Path:
    """Bar chart of spikes per neuron per step for each spiking layer."""
    plt = _pyplot()
    names = list(rates)
    fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(names) + 2), 3.2))
    ax.bar(range(len(names)), [rates[n] for n in names], color="tab:orange")
    ax.set_xticks(range(len(names)), names, rotation=20, ha="right")
    ax.set(ylabel="spikes / neuron / step", title="firing rate per layer (test set)")
    ax.grid(axis="y", alpha=0.3)
    return save_figure(fig, path, dpi=110)


def plot_run(
    run_dir: str | Path, history: list[dict[str, float]], rates: dict[str, float], loss: str = "mean"
) -> list[Path]:
    """Write curves, rasters (from ``spikes.npz`` when present) and rates into ``run_dir/plots``.

    ``loss`` names the training loss, whose score decides the predicted class shown on the raster.
    """
    import torch

    from snnlab.train.losses import SCORES
    from snnlab.train.recording import load_spikes

    run_dir = Path(run_dir)
    out = run_dir / "plots"
    out.mkdir(parents=True, exist_ok=True)
    written = [plot_curves(history, out / "training_curves.png")]
    if rates:
        written.append(plot_rates(rates, out / "firing_rates.png"))
    if (run_dir / "spikes.npz").is_file():
        rec = load_spikes(run_dir / "spikes.npz")
        pred = int(SCORES[loss](torch.from_numpy(rec["output"]))[0].argmax())
        written.append(
            plot_raster(
                rec["layers"], rec["input"], int(rec["labels"][0]), pred, out / "spike_raster.png", dt=rec["dt"]
            )
        )
    return written
