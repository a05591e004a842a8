"""``snnlab eval RUN --early-exit``: calibrate Dynamic Confidence, measure it, write JSON and plots.

Protocol (no choice ever reads the test split):

1. Calibration on the **validation split** (``calib_loader``, the recipe's ``data.valid_split``,
   held out from training): one dense multi-step pass records per-step outputs ``(T, N, C)``;
   the threshold sweep, Pareto front and the choice by ``max_drop`` (default 0.5 percentage
   points below the validation accuracy at T_max) or ``target_latency`` run on it. With
   ``threshold`` set, that fixed threshold is used instead (the paper's official ``main.py``
   exits at a confidence above 0.6; :data:`PAPER_THRESHOLD`).
2. Only then the **test split** (``loader``) is run once: every reported number (accuracy,
   mean latency, oracle) is measured on it with the threshold fixed in step 1. The paper's
   fixed 0.6 rule is reported beside the chosen one (``paper_rule``).
3. Compute: the step-wise runner runs the test samples with and without early exit, timing
   them and counting synaptic operations and spikes; the two activity profiles are priced through
   :mod:`snnlab.analysis` (the chip given by ``hw``, and the 45 nm MAC/AC convention).

Outputs: ``RUN/early_exit.json``, ``RUN/plots/early_exit_pareto.png`` and
``RUN/plots/early_exit_latency_hist.png``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

import torch
from torch import nn

from snnlab.analysis.report import energy_basis, energy_per_inference
from snnlab.errors import ConfigError
from snnlab.inference.calibrate import DEFAULT_THRESHOLDS, Calibration, calibrate, sweep
from snnlab.inference.confidence import DynamicConfidence, ExitDecision, fixed_latency_accuracy, oracle
from snnlab.inference.counting import spikes_per_neuron
from snnlab.inference.plots import plot_latency_hist, plot_pareto
from snnlab.inference.runner import EarlyExitRunner, RunStats, collect_outputs, model_device
from snnlab.inference.stream import NotStreamableError, check_streamable
from snnlab.results import study_path, write_results

CALIB_SEED = 0
PAPER_THRESHOLD = 0.6  # Li, Jones and Furber's official main.py: exit once the confidence exceeds 0.6
PAPER_RULE_SOURCE = (
    "fixed threshold 0.6 (official repository chenlicodebank/Dynamic-Confidence-in-Spiking-Neural-Networks, main.py)"
)


@dataclass(frozen=True)
class EarlyExitOptions:
    """Options read from the ``eval`` command's arguments (absent ones take these defaults)."""

    max_drop: Optional[float] = None  # percentage points vs T_max; 0.5 when no rule is given
    target_latency: Optional[float] = None  # steps
    threshold: Optional[float] = None  # fixed threshold: skip the choice, still sweep for the plot
    smoothing: float = 30.0
    t_max: Optional[int] = None
    calib_size: Optional[int] = None  # at most this many validation samples (a fixed subset); None: all
    hw: str = "loihi2"  # hardware profile for the energy estimate ("" or "none": skip)

    @classmethod
    def from_args(cls, args: Any) -> EarlyExitOptions:
        """Read the fields above from an argparse namespace (or any object), hyphens as underscores."""
        values = {f.name: getattr(args, f.name) for f in fields(cls) if getattr(args, f.name, None) is not None}
        opts = cls(**values)
        if opts.calib_size is not None and opts.calib_size < 2:
            raise ConfigError(f"--calib-size must be >= 2 validation samples, got {opts.calib_size}")
        if opts.threshold is not None and not 0 < opts.threshold <= 1:
            raise ConfigError(
                f"--threshold must be in (0, 1] (the paper's rule is {PAPER_THRESHOLD}), got {opts.threshold}"
            )
        return opts


def calibration_subset(n: int, calib_size: Optional[int], seed: int = CALIB_SEED) -> torch.Tensor:
    """Sorted indices of the validation samples used: all ``n``, or a fixed ``calib_size`` drawn with ``seed``."""
    if n < 2:
        raise ConfigError(f"early exit needs >= 2 validation samples to calibrate on, got {n}")
    if calib_size is None or calib_size >= n:
        return torch.arange(n)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[:calib_size].sort().values


def _rows(batches: Iterable, keep: torch.Tensor) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The samples of ``batches`` whose running index is marked in the bool mask ``keep``."""
    offset = 0
    for x, y in batches:
        n = x.shape[1]
        idx = keep[offset : offset + n].nonzero().squeeze(1)
        offset += n
        if idx.numel():
            yield x.index_select(1, idx.to(x.device)), torch.as_tensor(y)[idx]


def _summary(decision: ExitDecision, labels: torch.Tensor) -> dict[str, float]:
    return {"mean_latency": decision.mean_latency(), "accuracy": decision.accuracy(labels)}


def _energy(stats: RunStats, hw: str) -> dict[str, float]:
    """Energy per inference (J) of a counted run on ``hw`` and by the 45 nm convention."""
    profile = stats.profile
    profile.timesteps = max(1, round(stats.decision.mean_latency()))  # latency and static energy follow it
    return energy_per_inference(profile, hw)


def _compute(
    model: nn.Module, rule: DynamicConfidence, loader: Iterable, keep: torch.Tensor, hw: str
) -> dict[str, Any]:
    """Run held-out samples with and without exit; wall time, SynOps, spikes and energy."""
    runner = EarlyExitRunner(model, rule, count=True)
    runs = {mode: runner.run(_rows(loader, keep), early_exit=mode == "exit") for mode in ("exit", "full")}
    result: dict[str, Any] = {"streamable": True}
    for mode, stats in runs.items():
        result[mode] = {
            "wall_s": stats.wall_s,
            "synaptic_ops_per_sample": stats.synaptic_ops,
            "spikes_per_neuron": spikes_per_neuron(stats.profile),
            "mean_latency": stats.decision.mean_latency(),
        }
    for key in ("wall_s", "synaptic_ops_per_sample", "spikes_per_neuron"):
        full = result["full"][key]
        result[f"{key}_saved"] = 1.0 - result["exit"][key] / full if full else 0.0
    try:
        energy = {mode: _energy(stats, hw) for mode, stats in runs.items()}
    except (ImportError, ValueError, TypeError, KeyError) as err:  # a missing or unusable cost model
        result["energy"] = {"error": str(err)}
        return result
    result["energy"] = {
        k: {
            "exit": energy["exit"][k],
            "full": energy["full"][k],
            "saved": 1.0 - energy["exit"][k] / energy["full"][k] if energy["full"][k] else 0.0,
        }
        for k in energy["full"]
    }
    result["energy_basis"] = energy_basis(hw)
    return result


def _streamable(model: nn.Module, loader: Iterable) -> Optional[str]:
    """None when the model streams, else the reason it does not."""
    x, _ = next(iter(loader))
    try:
        check_streamable(model, x[:, :4].to(model_device(model)))
    except NotStreamableError as err:
        return str(err)
    return None


def calibrate_on_validation(
    outputs: torch.Tensor, labels: torch.Tensor, opts: EarlyExitOptions
) -> tuple[Calibration, DynamicConfidence]:
    """Sweep and choose on validation outputs (T, N, C); the rule to apply to the test split."""
    idx = calibration_subset(labels.numel(), opts.calib_size)
    cal = calibrate(
        outputs[:, idx], labels[idx], opts.max_drop, opts.target_latency, DEFAULT_THRESHOLDS, opts.smoothing, opts.t_max
    )
    threshold = opts.threshold if opts.threshold is not None else cal.chosen.threshold
    return cal, DynamicConfidence(threshold, opts.smoothing, opts.t_max)


@dataclass
class Reported:
    """What the report was computed from, kept for plots and the compute measurement."""

    calibration: Calibration
    decision: ExitDecision  # DC on the test samples
    oracle: ExitDecision  # the paper's oracle on them
    outputs: torch.Tensor  # (T, N_test, C)
    labels: torch.Tensor  # (N_test,)


def evaluate_outputs(
    outputs: torch.Tensor, labels: torch.Tensor, cal: Calibration, rule: DynamicConfidence, opts: EarlyExitOptions
) -> tuple[dict[str, Any], Reported]:
    """Apply a rule fixed beforehand to test outputs (T, N, C) and report (no model needed).

    Returns:
        ``(report, reported)``: the JSON-ready numbers and the tensors behind them.
    """
    decision = rule.decide(outputs)
    T = decision.t_max
    acc_curve = fixed_latency_accuracy(outputs[:T], labels)
    paper, stable = oracle(outputs, labels, "earliest", t_max=T), oracle(outputs, labels, "stable", t_max=T)
    fixed = DynamicConfidence(PAPER_THRESHOLD, opts.smoothing, opts.t_max).decide(outputs)
    report = {
        "threshold": rule.threshold,
        "smoothing": rule.smoothing,
        "t_max": T,
        "rule": ({"fixed_threshold": rule.threshold} if opts.threshold is not None else dict(cal.rule)),
        **_summary(decision, labels),
        "accuracy_t_max": float(acc_curve[-1]),
        "latency_cut": 1.0 - decision.mean_latency() / T,
        "accuracy_per_step": [float(a) for a in acc_curve],
        "paper_rule": {
            "definition": PAPER_RULE_SOURCE,
            "threshold": PAPER_THRESHOLD,
            **_summary(fixed, labels),
            "latency_cut": 1.0 - fixed.mean_latency() / T,
        },
        "oracle": {
            "definition": "earliest step whose prediction is correct (the paper's potential)",
            **_summary(paper, labels),
        },
        "oracle_stable": {
            "definition": "earliest step from which the prediction stays correct to T_max",
            **_summary(stable, labels),
        },
        "calibration": cal.to_dict(),
    }
    return report, Reported(cal, decision, paper, outputs, labels)


def _prepare(model: nn.Module, opts: EarlyExitOptions) -> nn.Module:
    """Convert a quantised ANN of :mod:`snnlab.models.ann2snn` to its SNN; any other model as is."""
    from snnlab.models.ann2snn import QuantizedANN, convert_to_snn

    if isinstance(model, QuantizedANN):
        model = convert_to_snn(model)
    return model.eval()


def run_for_eval(
    run_dir: str | Path,
    model: nn.Module,
    loader: Iterable,
    args: Any,
    calib_loader: Optional[Iterable] = None,
    calib_split: str = "valid",
) -> dict[str, Any]:
    """Early-exit evaluation of a trained model; writes ``early_exit.json`` and two plots.

    Args:
        run_dir: the run folder (``plots/`` is created inside).
        model: the trained model, ``(T, B, ...) -> (T, B, C)``; a quantised ANN is converted first.
        loader: the test loader of ``(x (T, B, ...), y (B,))``, in a fixed order; only reported on.
        args: the command's namespace; read fields are those of :class:`EarlyExitOptions`.
        calib_loader: the validation loader the threshold is chosen on (required: the test split
            is never used to choose).
        calib_split: its name, recorded in the report.

    Returns:
        The dictionary written to ``early_exit.json``.

    Raises:
        ConfigError: without a validation loader.
    """
    opts = EarlyExitOptions.from_args(args)
    if calib_loader is None:
        raise ConfigError(
            "early exit chooses its threshold on a validation split, never on the test split; the run's "
            "recipe has none: set data.valid_split (e.g. data.valid_split=valid)"
        )
    run_dir = Path(run_dir)
    model = _prepare(model, opts)
    with torch.no_grad():
        cal_out, cal_y = collect_outputs(model, calib_loader)
    cal, rule = calibrate_on_validation(cal_out, cal_y, opts)
    with torch.no_grad():  # the test split, read only after the rule is fixed
        outputs, labels = collect_outputs(model, loader)
    report, rep = evaluate_outputs(outputs, labels, cal, rule, opts)
    report["split"] = {
        "calibration": int(calibration_subset(cal_y.numel(), opts.calib_size).numel()),
        "calibration_split": calib_split,
        "reported": int(labels.numel()),
        "how": "threshold chosen on the validation split (held out from training); the test split only reports",
    }
    reason = _streamable(model, loader)
    everything = torch.ones(labels.numel(), dtype=torch.bool)
    report["compute"] = (
        _compute(model, rule, loader, everything, opts.hw)
        if reason is None
        else {"streamable": False, "reason": reason}
    )
    test_sweep = sweep(rep.outputs, rep.labels, [p.threshold for p in cal.points], opts.smoothing, opts.t_max)
    plots = run_dir / "plots"
    plot_pareto(
        cal, plots / "early_exit_pareto.png", test_sweep, (rep.oracle.mean_latency(), rep.oracle.accuracy(rep.labels))
    )
    plot_latency_hist(
        rep.decision.exit_step, rep.decision.t_max, plots / "early_exit_latency_hist.png", rep.oracle.exit_step
    )
    report["plots"] = ["plots/early_exit_pareto.png", "plots/early_exit_latency_hist.png"]
    write_results(study_path(run_dir, "early_exit"), report)
    return report


def summary_line(report: dict[str, Any], path: Any) -> str:
    """One summary line of an early-exit report (as the demo and ``eval --early-exit`` print it)."""
    change = 100.0 * (report["accuracy"] - report["accuracy_t_max"])
    saved = report.get("compute", {}).get("synaptic_ops_per_sample_saved")
    ops = f", synaptic ops -{saved:.0%}" if saved is not None else ""
    split, paper = report["split"], report["paper_rule"]
    how = "fixed" if "fixed_threshold" in report.get("rule", {}) else "chosen"
    return (
        f"early exit (threshold {report['threshold']:g} {how}; validation sweep on {split['calibration']} "
        f"'{split['calibration_split']}' samples): mean latency {report['mean_latency']:.2f} of {report['t_max']} "
        f"steps (cut {report['latency_cut']:.0%}), accuracy {report['accuracy']:.2%} vs "
        f"{report['accuracy_t_max']:.2%} at T_max ({change:+.2f} pp) on {split['reported']} test samples{ops}; "
        f"paper's fixed threshold {paper['threshold']:g}: {paper['mean_latency']:.2f} steps, "
        f"{paper['accuracy']:.2%} -> {path}"
    )
