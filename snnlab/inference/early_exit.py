"""``snnlab eval RUN --early-exit``: calibrate Dynamic Confidence, measure it, write JSON and plots.

Protocol (the paper's, on the data one has):

1. One dense multi-step pass over the evaluation loader records per-step outputs ``(T, N, C)``.
2. Calibration split: a fixed subset of that loader, ``calib_size`` samples (default 100, the
   paper's "100 fixed test indices", at most half of the set) drawn with seed 0. The threshold
   sweep, Pareto front and the choice by ``max_drop`` (default 0.5 percentage points) or
   ``target_latency`` run on it.
3. Everything reported (accuracy, mean latency, oracle) is on the remaining held-out samples.
4. Compute: the step-wise runner runs the held-out samples with and without early exit,
   timing them and counting synaptic operations and spikes; the two activity profiles are
   priced through :mod:`snnlab.analysis` (the chip given by ``hw``, and the 45 nm MAC/AC convention).

Outputs: ``RUN/early_exit.json``, ``RUN/plots/early_exit_pareto.png`` and
``RUN/plots/early_exit_latency_hist.png``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

import torch
from torch import nn

from snnlab.errors import ConfigError
from snnlab.inference.calibrate import DEFAULT_THRESHOLDS, Calibration, calibrate, sweep
from snnlab.inference.confidence import DynamicConfidence, ExitDecision, fixed_latency_accuracy, oracle
from snnlab.inference.counting import spikes_per_neuron
from snnlab.inference.plots import plot_latency_hist, plot_pareto
from snnlab.inference.runner import EarlyExitRunner, RunStats, collect_outputs, model_device
from snnlab.inference.stream import NotStreamableError, check_streamable

CALIB_SEED = 0


@dataclass(frozen=True)
class EarlyExitOptions:
    """Options read from the ``eval`` command's arguments (absent ones take these defaults)."""

    max_drop: Optional[float] = None  # percentage points vs T_max; 0.5 when no rule is given
    target_latency: Optional[float] = None  # steps
    threshold: Optional[float] = None  # fixed threshold: skip the choice, still sweep for the plot
    smoothing: float = 30.0
    t_max: Optional[int] = None
    calib_size: int = 100
    hw: str = "loihi2"  # hardware profile for the energy estimate ("" or "none": skip)

    @classmethod
    def from_args(cls, args: Any) -> "EarlyExitOptions":
        """Read the fields above from an argparse namespace (or any object), hyphens as underscores."""
        values = {f.name: getattr(args, f.name) for f in fields(cls) if getattr(args, f.name, None) is not None}
        opts = cls(**values)
        if opts.calib_size < 1:
            raise ConfigError(f"--calib-size must be >= 1 sample, got {opts.calib_size}")
        return opts


def split_calibration(n: int, calib_size: int, seed: int = CALIB_SEED) -> tuple[torch.Tensor, torch.Tensor]:
    """Fixed (calibration, held-out) sample indices: ``min(calib_size, n // 2)`` drawn with ``seed``."""
    if n < 2:
        raise ConfigError(f"early exit needs >= 2 evaluation samples to split off a calibration set, got {n}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    k = max(1, min(calib_size, n // 2))
    return perm[:k].sort().values, perm[k:].sort().values


def _rows(batches: Iterable, keep: torch.Tensor) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The samples of ``batches`` whose running index is marked in the bool mask ``keep``."""
    offset = 0
    for x, y in batches:
        n = x.shape[1]
        idx = keep[offset:offset + n].nonzero().squeeze(1)
        offset += n
        if idx.numel():
            yield x.index_select(1, idx.to(x.device)), torch.as_tensor(y)[idx]


def _summary(decision: ExitDecision, labels: torch.Tensor) -> dict[str, float]:
    return {"mean_latency": decision.mean_latency(), "accuracy": decision.accuracy(labels)}


def _energy(stats: RunStats, hw: str) -> dict[str, float]:
    """Energy per inference (J) of a counted run on ``hw`` and by the 45 nm convention."""
    from snnlab.analysis.report import energy_per_inference

    profile = stats.profile
    profile.timesteps = max(1, round(stats.decision.mean_latency()))  # latency and static energy follow it
    return energy_per_inference(profile, hw)


def _compute(model: nn.Module, rule: DynamicConfidence, loader: Iterable, keep: torch.Tensor,
             hw: str) -> dict[str, Any]:
    """Run held-out samples with and without exit; wall time, SynOps, spikes and energy."""
    runner = EarlyExitRunner(model, rule, count=True)
    runs = {mode: runner.run(_rows(loader, keep), early_exit=mode == "exit") for mode in ("exit", "full")}
    result: dict[str, Any] = {"streamable": True}
    for mode, stats in runs.items():
        result[mode] = {"wall_s": stats.wall_s, "synaptic_ops_per_sample": stats.synaptic_ops,
                        "spikes_per_neuron": spikes_per_neuron(stats.profile),
                        "mean_latency": stats.decision.mean_latency()}
    for key in ("wall_s", "synaptic_ops_per_sample", "spikes_per_neuron"):
        full = result["full"][key]
        result[f"{key}_saved"] = 1.0 - result["exit"][key] / full if full else 0.0
    try:
        energy = {mode: _energy(stats, hw) for mode, stats in runs.items()}
    except (ImportError, ValueError, TypeError, KeyError) as err:  # a missing or unusable cost model
        result["energy"] = {"error": str(err)}
        return result
    result["energy"] = {k: {"exit": energy["exit"][k], "full": energy["full"][k],
                            "saved": 1.0 - energy["exit"][k] / energy["full"][k] if energy["full"][k] else 0.0}
                        for k in energy["full"]}
    return result


def _streamable(model: nn.Module, loader: Iterable) -> Optional[str]:
    """None when the model streams, else the reason it does not."""
    x, _ = next(iter(loader))
    try:
        check_streamable(model, x[:, :4].to(model_device(model)))
    except NotStreamableError as err:
        return str(err)
    return None


def _choose_rule(opts: EarlyExitOptions, outputs: torch.Tensor, labels: torch.Tensor):
    cal = calibrate(outputs, labels, opts.max_drop, opts.target_latency, DEFAULT_THRESHOLDS, opts.smoothing,
                    opts.t_max)
    threshold = opts.threshold if opts.threshold is not None else cal.chosen.threshold
    return cal, DynamicConfidence(threshold, opts.smoothing, opts.t_max)


@dataclass
class HeldOut:
    """What the report was computed from, kept for plots and the compute measurement."""

    calibration: Calibration
    decision: ExitDecision  # DC on the held-out samples
    oracle: ExitDecision  # the paper's oracle on them
    outputs: torch.Tensor  # (T, N_held, C)
    labels: torch.Tensor  # (N_held,)
    mask: torch.Tensor  # (N,) bool, True for held-out samples


def evaluate_outputs(outputs: torch.Tensor, labels: torch.Tensor,
                     opts: EarlyExitOptions) -> tuple[dict[str, Any], HeldOut]:
    """Calibrate on a fixed split of recorded outputs and report on the rest (no model needed).

    Returns:
        ``(report, held_out)``: the JSON-ready numbers and the tensors behind them.
    """
    cal_idx, held_idx = split_calibration(labels.numel(), opts.calib_size)
    cal, rule = _choose_rule(opts, outputs[:, cal_idx], labels[cal_idx])
    held, y = outputs[:, held_idx], labels[held_idx]
    decision = rule.decide(held)
    T = decision.t_max
    acc_curve = fixed_latency_accuracy(held[:T], y)
    paper, stable = oracle(held, y, "earliest", t_max=T), oracle(held, y, "stable", t_max=T)
    report = {
        "threshold": rule.threshold, "smoothing": rule.smoothing, "t_max": T,
        **_summary(decision, y), "accuracy_t_max": float(acc_curve[-1]),
        "latency_cut": 1.0 - decision.mean_latency() / T,
        "accuracy_per_step": [float(a) for a in acc_curve],
        "oracle": {"definition": "earliest step whose prediction is correct (the paper's potential)",
                   **_summary(paper, y)},
        "oracle_stable": {"definition": "earliest step from which the prediction stays correct to T_max",
                          **_summary(stable, y)},
        "split": {"calibration": int(cal_idx.numel()), "held_out": int(held_idx.numel()), "seed": CALIB_SEED,
                  "how": "fixed random subset of the evaluation loader (paper: 100 fixed test indices)"},
        "calibration": cal.to_dict(),
    }
    mask = torch.zeros(labels.numel(), dtype=torch.bool)
    mask[held_idx] = True
    return report, HeldOut(cal, decision, paper, held, y, mask)


def _prepare(model: nn.Module, opts: EarlyExitOptions) -> nn.Module:
    """Convert a quantised ANN of :mod:`snnlab.models.ann2snn` to its SNN; any other model as is."""
    from snnlab.models.ann2snn import QuantizedANN, convert_to_snn

    if isinstance(model, QuantizedANN):
        model = convert_to_snn(model)
    return model.eval()


def run_for_eval(run_dir: str | Path, model: nn.Module, loader: Iterable, args: Any) -> dict[str, Any]:
    """Early-exit evaluation of a trained model; writes ``early_exit.json`` and two plots.

    Args:
        run_dir: the run folder (``plots/`` is created inside).
        model: the trained model, ``(T, B, ...) -> (T, B, C)``; a quantised ANN is converted first.
        loader: the evaluation loader of ``(x (T, B, ...), y (B,))``, in a fixed order.
        args: the command's namespace; read fields are those of :class:`EarlyExitOptions`.

    Returns:
        The dictionary written to ``early_exit.json``.
    """
    opts = EarlyExitOptions.from_args(args)
    run_dir = Path(run_dir)
    model = _prepare(model, opts)
    with torch.no_grad():
        outputs, labels = collect_outputs(model, loader)
    report, held = evaluate_outputs(outputs, labels, opts)
    rule = DynamicConfidence(report["threshold"], opts.smoothing, opts.t_max)
    reason = _streamable(model, loader)
    report["compute"] = _compute(model, rule, loader, held.mask, opts.hw) if reason is None else {
        "streamable": False, "reason": reason}
    held_sweep = sweep(held.outputs, held.labels, [p.threshold for p in held.calibration.points], opts.smoothing,
                       opts.t_max)
    plots = run_dir / "plots"
    plot_pareto(held.calibration, plots / "early_exit_pareto.png", held_sweep,
                (held.oracle.mean_latency(), held.oracle.accuracy(held.labels)))
    plot_latency_hist(held.decision.exit_step, held.decision.t_max, plots / "early_exit_latency_hist.png",
                      held.oracle.exit_step)
    report["plots"] = ["plots/early_exit_pareto.png", "plots/early_exit_latency_hist.png"]
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "early_exit.json").write_text(json.dumps(report, indent=1))
    return report
