"""``snnlab demo``: the main job on the embedded digits, as a sequence of stages.

The flow of the house on one small network: train (best.pt selected on a validation split
held out from the training digits), evaluate on the test split, export as NIR, re-run the graph
event-driven and check it fires the dense model's spikes, evaluate dynamic-confidence early
exit, and cost it on neuromorphic chips (report.html). Each stage is a function
``stage(ctx: DemoContext) -> None`` that reads and extends the context; :data:`STAGES` lists
them in order (the stages after training live in :mod:`snnlab.commands._demo_stages`).
Extending the demo is adding a function and appending it to the list.
"""

from __future__ import annotations

import argparse
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from snnlab.commands._demo_stages import STAGES as AFTER_TRAINING

EPILOG = textwrap.dedent(
    """\
    examples:
      snnlab demo                           # train, evaluate, export, simulate, early exit, report -> runs/demo/
      snnlab demo --out runs/demo2 --epochs 4
      snnlab demo --set model.hidden=[128]   # any recipe field of experiments/demo_digits.yaml
    """
)
RECIPE = Path("experiments") / "demo_digits.yaml"
PROFILED_SAMPLES = 32  # test samples recorded in spikes.npz and profiled in activity.json


@dataclass
class DemoContext:
    """What the stages share: arguments, the resolved config, and results as they come."""

    args: argparse.Namespace
    started: float = field(default_factory=time.perf_counter)
    config: Any = None  # snnlab.train.config.Config
    run_dir: Optional[Path] = None
    train: dict[str, Any] = field(default_factory=dict)  # Trainer.fit() summary
    eval: dict[str, Any] = field(default_factory=dict)  # eval.json content
    plots: list[Path] = field(default_factory=list)
    graph: Any = None  # nir.NIRGraph of the trained model, once exported
    sim_check: dict[str, Any] = field(default_factory=dict)  # sim_check.json content
    early_exit: dict[str, Any] = field(default_factory=dict)  # early_exit.json content
    report: dict[str, Any] = field(default_factory=dict)  # report paths and the chips that fit
    skipped: set[str] = field(default_factory=set)  # stages that could not run (warned)
    lines: list[str] = field(default_factory=list)  # summary lines printed at the end


def _recipe_path() -> Path:
    """The demo recipe shipped with the package (never a file of that name in the working folder)."""
    from snnlab.commands._recipes import packaged_recipe

    return packaged_recipe("demo_digits")


def stage_config(ctx: DemoContext) -> None:
    """Load the recipe and apply ``--out``, ``--epochs`` and ``--set``."""
    from snnlab.train.config import load_config

    overrides = list(ctx.args.overrides)
    if ctx.args.epochs is not None:
        overrides.append(f"train.epochs={ctx.args.epochs}")
    out = Path(ctx.args.out)
    overrides += [f"run.out_dir={out.parent}", f"run.name={out.name}"]
    ctx.config = load_config(_recipe_path(), overrides)
    ctx.run_dir = ctx.config.run_dir()


def stage_train(ctx: DemoContext) -> None:
    """Train from scratch (the demo always starts over in its folder); best.pt is chosen on the
    recipe's validation split (144 of the training digits, held out from training)."""
    from snnlab.fmt import plural
    from snnlab.train import Trainer
    from snnlab.train.evaluation import selection_note

    print(
        f"[demo] training {ctx.config.model['name']} on '{ctx.config.data.name}' for "
        f"{plural(ctx.config.train.epochs, 'epoch')} -> {ctx.run_dir}"
    )
    ctx.train = Trainer(ctx.config, overwrite=True).fit()
    ctx.lines.append(
        f"best.pt: epoch {ctx.train['best_epoch']} of {ctx.train['epochs']}, "
        f"{selection_note(ctx.train, ctx.config.data.test_split)} "
        f"({ctx.train['selected_on']} {ctx.train['best']:.2%})"
    )


def stage_evaluate(ctx: DemoContext) -> None:
    """Evaluate best.pt on the test split; writes eval.json, spikes.npz (and activity.json).

    Rasters and the activity profile (which the hardware report prices) cover the first
    :data:`PROFILED_SAMPLES` test samples, as ``snnlab eval RUN --samples 32`` does.
    """
    from snnlab.train.evaluation import evaluate_run

    ctx.eval = evaluate_run(ctx.run_dir, n_raster=PROFILED_SAMPLES)
    last = ctx.eval.get("accuracy_last")
    ctx.lines.append(
        f"test accuracy {ctx.eval['accuracy']:.2%} on {ctx.eval['samples']} samples "
        f"(checkpoint {ctx.eval['checkpoint']}, epoch {ctx.eval['epoch']})"
        + (f"; last epoch {last:.2%}" if last is not None else "")
    )
    rates = ", ".join(f"{k} {v:.3f}" for k, v in ctx.eval["firing_rates"].items())
    ctx.lines.append(f"firing rates (spikes/neuron/step): {rates}")


def stage_plots(ctx: DemoContext) -> None:
    """Training curves, spike raster of a test sample, firing rates -> plots/."""
    from snnlab.train.metrics import read_metrics_csv
    from snnlab.train.plots import plot_run

    history = read_metrics_csv(ctx.run_dir / "metrics.csv")
    ctx.plots = plot_run(ctx.run_dir, history, ctx.eval.get("firing_rates", {}), ctx.config.train.loss)
    ctx.lines.append("plots: " + ", ".join(str(p.relative_to(ctx.run_dir)) for p in ctx.plots))


def stage_summary(ctx: DemoContext) -> None:
    """Print what was done, where it is, and how long it took."""
    wall = time.perf_counter() - ctx.started
    print(f"[demo] done in {wall:.1f} s -> {ctx.run_dir}")
    for line in ctx.lines:
        print(f"[demo]   {line}")
    html = ctx.report.get("html")
    if html is not None:
        print(f"[demo] report: {html}")


Stage = Callable[[DemoContext], None]
STAGES: list[Stage] = [stage_config, stage_train, stage_evaluate, stage_plots, *AFTER_TRAINING, stage_summary]


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``demo`` subcommand."""
    parser = subparsers.add_parser(
        "demo",
        help="the main job: train, simulate, export and cost an SNN on the embedded digits",
        description="Train a spiking MLP on the embedded event-camera digits (no download), evaluate it, export "
        "it as NIR, check the event-driven simulation against it, evaluate early exit and write a "
        "hardware report. Writes runs/demo/: config.yaml, metrics.csv, checkpoints/, eval.json, "
        "model.nir, sim_check.json, early_exit.json, hw/<chip>.json, report.html, report.md, plots/.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", default="runs/demo", help="run folder to write (default: runs/demo)")
    parser.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a field of experiments/demo_digits.yaml (repeatable)",
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace, stages: Optional[list[Stage]] = None) -> int:
    """Run every stage in order."""
    ctx = DemoContext(args)
    for stage in stages or STAGES:
        if stage not in (stage_config, stage_train, stage_summary):
            print(f"[demo] {stage_title(stage)} ...", flush=True)  # say what runs: some stages take seconds
        stage(ctx)
    return 0


def stage_title(stage: Stage) -> str:
    """``evaluate: Evaluate best.pt on the test split``: the stage's name and the first sentence of its doc."""
    name = stage.__name__.removeprefix("stage_").replace("_", " ")
    para = " ".join((stage.__doc__ or "").strip().split("\n\n")[0].split()).replace("``", "")
    doc = para.split(". ")[0].split(";")[0].split(" (")[0].rstrip(".:")
    return f"{name}: {doc}" if doc else name
