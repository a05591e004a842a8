"""``snnlab motion train|prune CONFIG``: heterogeneous-delay motion detection on synthetic DVS movies."""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

from snnlab.commands._actions import add_action_command, run_folder

EPILOG = textwrap.dedent(
    """\
    examples:
      snnlab motion train experiments/motion_hd.yaml
      snnlab motion train experiments/motion_hd.yaml --set train.epochs=2 --set data.n_train=32 --out runs/motion_smoke
      snnlab motion train experiments/motion_hd.yaml --set movie.label=velocity     # direction x speed classes
      snnlab motion prune experiments/motion_hd.yaml                                # reuses RUN/model.pt

    train writes RUN/model.pt, RUN/eval.json and RUN/config.yaml (RUN = --out, default runs/<name>);
    prune writes RUN/prune.json and RUN/plots/pruning.png (it trains first when RUN/model.pt is absent).
    """
)
ACTIONS = {  # action -> what it does
    "train": "fit and evaluate the heterogeneous-delay layer",
    "prune": "accuracy vs synapses kept (trains first when RUN/model.pt is absent)",
}


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``motion`` subcommand."""
    return add_action_command(
        subparsers,
        "motion",
        ACTIONS,
        run,
        config_help="recipe YAML (experiments/motion_hd.yaml)",
        set_example="train.epochs=2",
        help="heterogeneous-delay motion detection: train the HD-SNN layer, pruning study",
        description="One layer of neurons with heterogeneous synaptic delays (a causal spatio-temporal "
        "convolution read as a logistic regression) detects the motion direction in synthetic "
        "DVS movies of moving textures (Grimaldi & Perrinet, Biol. Cybern. 2023).",
        epilog=EPILOG,
    )


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
    from snnlab.results import eval_path, study_path

    recipe = load_recipe(args.config, args.overrides)
    out = run_folder(args.out, recipe.name)
    log = lambda line: print(f"  {line}", flush=True)  # noqa: E731
    if args.action == "train":
        lines = _train_lines(run_train(recipe, out, log))
        written = eval_path(out)
    else:
        lines = _prune_lines(run_prune(recipe, out, log))
        written = study_path(out, "prune")
    print("\n".join(lines))
    print(f"wrote {written}")
    return 0
