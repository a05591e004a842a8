"""``snnlab motion train|prune CONFIG``: heterogeneous-delay motion detection on synthetic DVS movies."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path
from typing import Any

EPILOG = textwrap.dedent(
    """\
    examples:
      snnlab motion train experiments/motion_hd.yaml
      snnlab motion train experiments/motion_hd.yaml --set train.epochs=2 --set data.n_train=32 --out runs/motion_smoke
      snnlab motion train experiments/motion_hd.yaml --set movie.label=velocity     # direction x speed classes
      snnlab motion prune experiments/motion_hd.yaml                                # reuses RUN/model.pt

    train writes RUN/model.pt, RUN/train_results.json and RUN/config.yaml (RUN = --out, default runs/<name>);
    prune writes RUN/prune_results.json and RUN/plots/pruning.png (it trains first when RUN/model.pt is absent).
    """
)
ACTIONS = {  # action -> what it does
    "train": "fit and evaluate the heterogeneous-delay layer",
    "prune": "accuracy vs synapses kept (trains first when RUN/model.pt is absent)",
}


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``motion`` subcommand."""
    parser = subparsers.add_parser(
        "motion",
        help="heterogeneous-delay motion detection: train the HD-SNN layer, pruning study",
        description="One layer of neurons with heterogeneous synaptic delays (a causal spatio-temporal "
        "convolution read as a logistic regression) detects the motion direction in synthetic "
        "DVS movies of moving textures (Grimaldi & Perrinet, Biol. Cybern. 2023).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, text in ACTIONS.items():
        sub = actions.add_parser(
            action, help=text, description=text, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        sub.add_argument("config", help="recipe YAML (experiments/motion_hd.yaml)")
        sub.add_argument(
            "--set",
            dest="overrides",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="override a recipe field with a dotted key, e.g. train.epochs=2 (repeatable)",
        )
        sub.add_argument("--out", default=None, metavar="DIR", help="run folder (default runs/<name>)")
        sub.set_defaults(func=run)
    return parser


def _train_lines(result: dict[str, Any]) -> list[str]:
    valid = (
        f"valid {100 * result['valid_accuracy']:.1f}% (settled {100 * result['valid_settled_accuracy']:.1f}%), "
        if "valid_accuracy" in result
        else ""
    )
    return [
        f"{result['name']}: {valid}test accuracy {100 * result['test_accuracy']:.1f}% "
        f"(settled steps {100 * result['test_settled_accuracy']:.1f}%; train {100 * result['train_accuracy']:.1f}%, "
        f"chance {100 * result['chance']:.1f}%, {result['n_classes']} classes, {result['n_synapses']} synapses, "
        f"fit {result['fit_seconds']:.0f} s, total {result['seconds']:.0f} s)"
    ]


def _prune_lines(result: dict[str, Any]) -> list[str]:
    lines = [
        "synapses kept -> accuracy (pruning): "
        + ", ".join(f"{r['n_synapses']}: {100 * r['accuracy']:.1f}%" for r in result["pruning"])
    ]
    if result["shortening"]:
        lines.append(
            "delays kept -> accuracy (shortening): "
            + ", ".join(f"{r['n_delays']}: {100 * r['accuracy']:.1f}%" for r in result["shortening"])
        )
    half = result["half_saturation_synapses"]
    lines.append(
        f"half-saturation: pruning {half['pruning'] and round(half['pruning'])} synapses, "
        f"shortening {half['shortening'] and round(half['shortening'])} (of {result['n_synapses_full']})"
    )
    lines.append(f"plot: {result['plot']}")
    return lines


def run(args: argparse.Namespace) -> int:
    """Load the recipe with its overrides, run the action, write the run folder, print a summary."""
    from snnlab.apps.motion.pruning import run_prune
    from snnlab.apps.motion.recipe import load_recipe
    from snnlab.apps.motion.train import run_train

    recipe = load_recipe(args.config, args.overrides)
    out = Path(args.out) if args.out else Path("runs") / recipe.name
    log = lambda line: print(f"  {line}", flush=True)  # noqa: E731
    if args.action == "train":
        lines = _train_lines(run_train(recipe, out, log))
        written = out / "train_results.json"
    else:
        lines = _prune_lines(run_prune(recipe, out, log))
        written = out / "prune_results.json"
    print("\n".join(lines))
    print(f"wrote {written}")
    return 0
