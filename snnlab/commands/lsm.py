"""``snnlab lsm run|zeroshot|study CONFIG``: the resistive-memory liquid-state machine."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path
from typing import Any

from snnlab.commands._actions import add_action_command, run_folder

EPILOG = textwrap.dedent(
    """\
    examples:
      snnlab lsm run experiments/lsm_digits.yaml                        # software random weights
      snnlab lsm run experiments/lsm_digits.yaml --set lsm.hardware=rram_40nm
      snnlab lsm run experiments/lsm_digits.yaml --set readout.epochs=20 --set data.limit=200
      snnlab lsm run experiments/nmnist_lsm.yaml --set data.root=datasets/nmnist
      snnlab lsm zeroshot experiments/lsm_zeroshot_digits.yaml --set hardware=rram_40nm
      snnlab lsm study experiments/lsm_digits.yaml --set study.seeds=[0,1] --out runs/lsm_study

    run and zeroshot write RUN/eval.json, study writes RUN/study.json, RUN/plots/robustness.png and
    RUN/plots/energy.png; each writes RUN/config.yaml (RUN = --out, default runs/<name>).
    """
)
ACTIONS = {  # action -> what it does
    "run": "classification with a fixed reservoir and a trained readout",
    "zeroshot": "LSM-CLIP zero-shot retrieval",
    "study": "variability, read-noise and stuck-at sweeps, and energy",
}


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``lsm`` subcommand."""
    return add_action_command(
        subparsers,
        "lsm",
        ACTIONS,
        run,
        config_help="recipe YAML (experiments/lsm_digits.yaml, experiments/nmnist_lsm.yaml...)",
        set_example="lsm.hardware=rram_40nm",
        help="RRAM liquid-state machine: classify, zero-shot retrieval, device studies",
        description="Fixed random LIF reservoirs with software or resistive-memory weights; only the "
        "readout (or the zero-shot projections) is trained.",
        epilog=EPILOG,
    )


def _results_path(out: Path, action: str) -> Path:
    """``RUN/eval.json`` for run and zeroshot, ``RUN/study.json`` for study (see :mod:`snnlab.results`)."""
    from snnlab.results import eval_path, study_path

    return study_path(out, "study") if action == "study" else eval_path(out)


def _write(out: Path, config: Any, result: dict[str, Any], action: str) -> Path:
    """Write the resolved recipe and the results; returns the results file."""
    from dataclasses import asdict

    import yaml

    from snnlab.results import write_results

    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(asdict(config), sort_keys=False))
    return write_results(_results_path(out, action), result)


def _classify(recipe: Any, out: Path) -> list[str]:
    from snnlab.apps.lsm.tasks import run_classification

    result = run_classification(recipe)
    e = result["energy_per_inference_pj"]
    _write(out, recipe, result, "run")
    return [
        f"{recipe.name} [{result['hardware']}]: test accuracy {100 * result['test_accuracy']:.1f}% "
        f"(train {100 * result['train_accuracy']:.1f}%, {result['n_train']}/{result['n_test']} samples, "
        f"{result['seconds']:.0f} s)",
        f"energy per inference: RRAM {e['rram_total_pj'] * 1e-6:.3f} uJ, digital {e['digital_pj'] * 1e-6:.3f} uJ "
        f"({e['efficiency_gain']:.1f}x)",
    ]


def _zeroshot(recipe: Any, out: Path) -> list[str]:
    from snnlab.apps.lsm.zeroshot import run_zeroshot

    result = run_zeroshot(recipe)
    _write(out, recipe, result, "zeroshot")
    proto = result["by_retrieval"]["prototype"]
    return [
        f"{recipe.name} [{result['hardware']}]: scan->image top-1 ({result['retrieval']} retrieval) seen "
        f"{100 * result['scan_to_image_top1_seen']:.1f}%, unseen {100 * result['scan_to_image_top1_unseen']:.1f}% "
        f"(chance {100 * result['chance_unseen']:.0f}%); prototype retrieval {100 * proto['seen']:.1f}% / "
        f"{100 * proto['unseen']:.1f}%, {result['seconds']:.0f} s"
    ]


def _study(recipe: Any, out: Path) -> list[str]:
    from snnlab.apps.lsm.studies import plot_energy, plot_sweeps, run_study, study_markdown

    result = run_study(recipe, log=lambda line: print(f"  {line}", flush=True))
    result["plots"] = [
        str(plot_sweeps(result, out / "plots" / "robustness.png")),
        str(plot_energy(result["energy"], out / "plots" / "energy.png")),
    ]
    _write(out, recipe, result, "study")
    return [study_markdown(result), f"({result['seconds']:.0f} s)"]


def run(args: argparse.Namespace) -> int:
    """Load the recipe with its overrides, run the action, write the run folder, print a summary."""
    from snnlab.apps.lsm.recipe import LSMRecipe, ZeroShotRecipe
    from snnlab.recipe import load_typed_recipe

    cls = ZeroShotRecipe if args.action == "zeroshot" else LSMRecipe
    recipe = load_typed_recipe(cls, args.config, args.overrides)
    out = run_folder(args.out, recipe.name)
    lines = {"run": _classify, "zeroshot": _zeroshot, "study": _study}[args.action](recipe, out)
    print("\n".join(lines))
    print(f"wrote {_results_path(out, args.action)}")
    return 0
