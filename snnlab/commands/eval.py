"""``snnlab eval RUN``: evaluate a trained run on its test split.

Writes ``eval.json`` (accuracy, loss, per-layer firing rates), ``spikes.npz`` (raster data of a
few test samples) and ``activity.json`` (when :mod:`snnlab.analysis` offers ``profile_model``).

Extension point: ``--early-exit`` hands the loaded model and test loader to
``snnlab.inference.early_exit.run_for_eval(run_dir, model, loader, args)``; other options can
be added in :func:`add_arguments` and handled in :data:`EXTENSIONS`.
"""

from __future__ import annotations

import argparse
import importlib
import textwrap
from typing import Any, Callable

EPILOG = textwrap.dedent(
    """\
    examples:
      snnlab eval runs/demo                      # best.pt on the test split -> runs/demo/eval.json
      snnlab eval runs/demo --checkpoint last
      snnlab eval runs/demo --early-exit --max-drop 0.5     # threshold chosen on the valid split, reported on test
      snnlab eval runs/demo --early-exit --threshold 0.6    # the paper's fixed rule
    """
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Every ``eval`` option; extensions add theirs here."""
    parser.add_argument("run_dir", metavar="RUN", help="run folder written by 'snnlab train' or 'snnlab demo'")
    parser.add_argument(
        "--checkpoint", choices=("best", "last"), default="best", help="which checkpoint (default best)"
    )
    parser.add_argument("--samples", type=int, default=4, help="test samples recorded in spikes.npz (default 4)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument(
        "--early-exit", action="store_true", help="also evaluate dynamic-confidence early exit (snnlab.inference)"
    )
    parser.add_argument(
        "--max-drop",
        type=float,
        default=0.5,
        help="early exit: largest accuracy drop (percentage points, on the validation split) allowed "
        "when choosing the threshold (default 0.5)",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="early exit: a fixed confidence threshold instead of the calibrated choice (the paper's "
        "official main.py uses 0.6, which is always reported beside the choice)",
    )


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``eval`` subcommand."""
    parser = subparsers.add_parser(
        "eval",
        help="evaluate a run's checkpoint on the test split",
        description="Evaluate checkpoints/best.pt of a run: accuracy, firing rates, spike rasters.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def _early_exit(args: argparse.Namespace, report: dict[str, Any]) -> None:
    """Run ``snnlab.inference.early_exit.run_for_eval`` on the evaluated model."""
    from snnlab.errors import ConfigError
    from snnlab.results import study_path
    from snnlab.train import load_run
    from snnlab.train.data import build_dataset, eval_loader
    from snnlab.train.distributed import DistContext

    try:
        module = importlib.import_module("snnlab.inference.early_exit")
    except ImportError:
        module = None
    if module is None or not hasattr(module, "run_for_eval"):
        raise ConfigError(
            "--early-exit needs snnlab.inference.early_exit.run_for_eval, which this installation does not have"
        )
    loaded = load_run(args.run_dir, args.checkpoint)
    cfg = loaded.config.data
    if cfg.valid_split is None:
        raise ConfigError(
            f"--early-exit chooses its threshold on a validation split, never on '{cfg.test_split}'; "
            f"the recipe of {args.run_dir} has no data.valid_split"
        )
    loader = eval_loader(build_dataset(cfg, cfg.test_split, train=False), cfg, DistContext())
    calib = eval_loader(build_dataset(cfg, cfg.valid_split, train=False), cfg, DistContext())
    result = module.run_for_eval(
        loaded.run_dir, loaded.model, loader, args, calib_loader=calib, calib_split=str(cfg.valid_split)
    )
    if isinstance(result, dict):
        report["early_exit"] = result
        print(module.summary_line(result, study_path(loaded.run_dir, "early_exit")))


# option name -> handler(args, report); a handler runs when its option is set.
EXTENSIONS: dict[str, Callable[[argparse.Namespace, dict[str, Any]], None]] = {"early_exit": _early_exit}


def run(args: argparse.Namespace) -> int:
    """Evaluate, run the requested extensions, print a summary."""
    from snnlab.train.evaluation import evaluate_run, selection_note

    if args.samples < 1:
        from snnlab.errors import ConfigError

        raise ConfigError(f"--samples must be >= 1, got {args.samples}")
    from snnlab.commands._checks import torch_device

    device = torch_device(args.device, "--device")
    report = evaluate_run(args.run_dir, args.checkpoint, args.samples, device)
    extended = False
    for option, handler in EXTENSIONS.items():
        if getattr(args, option, False):
            handler(args, report)
            extended = True
    if extended:  # eval.json gains the extensions' results
        from snnlab.results import eval_path, write_results
        from snnlab.train.model_io import resolve_run_dir

        write_results(eval_path(resolve_run_dir(args.run_dir)), report)
    rates = ", ".join(f"{k} {v:.3f}" for k, v in report["firing_rates"].items())
    chosen = f", {selection_note(report, report['split'])}" if report["checkpoint"] == "best" else ""
    print(
        f"{args.run_dir}: test accuracy {report['accuracy']:.2%} on {report['samples']} samples "
        f"({report['checkpoint']}.pt, epoch {report['epoch']}{chosen})"
    )
    print(f"firing rates (spikes/neuron/step): {rates}")
    print("wrote " + ", ".join(report["files"]))
    return 0
