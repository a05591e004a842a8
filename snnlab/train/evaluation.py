"""Evaluate a trained run on its test split and write ``eval.json``, ``spikes.npz`` and,
when :mod:`snnlab.analysis` provides ``profile_model``, ``activity.json``.

``eval.json`` also says how ``best.pt`` was chosen (``selected_on``: the monitored metric,
``selection_split``: the split it was measured on). Only when that split is the test split is
the reported test accuracy optimistic (chosen on the data it is reported on).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Optional

import torch

from snnlab.results import EVAL, activity_path, eval_path, write_results
from snnlab.train.config import Config
from snnlab.train.data import build_dataset, eval_loader
from snnlab.train.distributed import DistContext
from snnlab.train.loop import StepConfig, evaluate
from snnlab.train.losses import build_loss
from snnlab.train.model_io import LoadedRun, load_run
from snnlab.train.recording import record_spikes, save_spikes

CARRIED = ("accuracy_last", "loss_last", "last_epoch")  # the trainer's figures for the last epoch's weights


def is_static(x: torch.Tensor, y: torch.Tensor) -> bool:
    """Whether a batch holds static images ``(B, C, H, W)`` rather than time-major ``(T, B, ...)``."""
    return x.dim() == 4 and x.shape[0] == y.shape[0]


def first_batch(loader: torch.utils.data.DataLoader, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` samples of a loader: ``x (T, n, ...)`` (or ``(n, C, H, W)`` static), ``y (n,)``."""
    x, y = next(iter(loader))
    return (x[:n], y[:n]) if is_static(x, y) else (x[:, :n], y[:n])


def _as_sequence(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Static images as the model's encoder sees them ``(T, B, ...)``; sequences unchanged."""
    if not is_static(x, y):
        return x
    encoder = getattr(model, "encoder", None)
    return encoder(x) if encoder is not None else x.unsqueeze(0)


def profile_activity(run: LoadedRun, x: torch.Tensor, path: Path) -> Optional[str]:
    """Write ``activity.json`` through ``snnlab.analysis.profile_model`` when it exists."""
    try:
        import snnlab.analysis as analysis
    except ImportError:
        return None
    if not hasattr(analysis, "profile_model"):
        return None
    profile = analysis.profile_model(run.model, x, getattr(run.model, "dt", None))
    profile.save(path)
    return path.name


def selection_info(cfg: Config) -> dict[str, str]:
    """How ``best.pt`` is chosen: ``selected_on`` (the monitored metric) and ``selection_split``."""
    data = cfg.data
    monitor = cfg.run.monitor or ("valid_acc" if data.valid_split is not None else "test_acc")
    split = {"valid_acc": data.valid_split, "train_acc": data.train_split}.get(monitor, data.test_split)
    return {"selected_on": monitor, "selection_split": str(split)}


def selection_note(info: dict[str, Any], test_split: str = "test") -> str:
    """One phrase for summaries: on which split best.pt was selected, and a warning when on test."""
    text = f"selected on {info['selected_on']} of the '{info['selection_split']}' split"
    if info["selection_split"] == test_split:
        text += " (no validation split: the test accuracy of best.pt is optimistic)"
    return text


def write_eval_json(run_dir: Path, report: dict[str, Any]) -> None:
    """Write ``run_dir/eval.json`` (see :mod:`snnlab.results`)."""
    write_results(eval_path(run_dir), report)


def _carried(run_dir: Path, which: str) -> dict[str, Any]:
    """The last-epoch test figures of the trainer's ``eval.json``, kept when best.pt is re-evaluated."""
    path = eval_path(run_dir)
    if which != "best" or not path.is_file():
        return {}
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {k: old[k] for k in CARRIED if k in old}


def evaluate_run(
    run_dir: str | Path, which: str = "best", n_raster: int = 4, device: Optional[torch.device] = None
) -> dict[str, Any]:
    """Evaluate ``checkpoints/<which>.pt`` of a run on the test split and write the artefacts.

    Returns:
        The content of ``eval.json``: accuracy, loss, per-layer firing rates, samples, checkpoint,
        epoch, wall time, and the names of the files written.
    """
    device = device or torch.device("cpu")
    run = load_run(run_dir, which, device)
    cfg = run.config
    test_set = build_dataset(cfg.data, cfg.data.test_split, train=False)
    loader = eval_loader(test_set, cfg.data, DistContext())
    start = time.perf_counter()
    result = evaluate(run.model, loader, build_loss(cfg.train.loss), StepConfig(device), DistContext())
    x, y = first_batch(loader, n_raster)
    spikes, out = record_spikes(run.model, x.to(device))
    save_spikes(
        run.run_dir / "spikes.npz", spikes, _as_sequence(run.model, x, y), y, out, getattr(run.model, "dt", None)
    )
    files = [EVAL, "spikes.npz"]
    activity = profile_activity(run, x.to(device), activity_path(run.run_dir))
    files += [activity] if activity else []
    report = {
        "accuracy": result["test_acc"],
        "loss": result["test_loss"],
        "samples": result["samples"],
        "firing_rates": result["rates"],
        "checkpoint": run.checkpoint,
        "epoch": run.epoch,
        "split": cfg.data.test_split,
        "dataset": cfg.data.name,
        "model": cfg.model["name"],
        **selection_info(cfg),
        **_carried(run.run_dir, run.checkpoint),
        "eval_time_s": time.perf_counter() - start,
        "files": files,
    }
    write_eval_json(run.run_dir, report)
    return report
