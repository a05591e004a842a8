"""``snnlab train``: run a recipe into ``runs/<name>/`` (resumable, optionally data-parallel)."""

from __future__ import annotations

import argparse
import os
import textwrap
from typing import Any

EPILOG = textwrap.dedent(
    """\
    examples:
      snnlab train experiments/demo_digits.yaml
      snnlab train experiments/shd_lif.yaml --set data.root=datasets/shd --set train.epochs=3
      snnlab train experiments/shd_lif.yaml --set model.tau=4.0 --set train.optimizers.0.lr=5e-4
      snnlab train experiments/demo_digits.yaml --resume        # continue runs/demo after a crash
      snnlab train --resume runs/demo                           # same, from the run folder
      snnlab train experiments/cifar10_resnet.yaml --nproc-per-node 2   # DDP under torchrun
    """
)


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``train`` subcommand."""
    parser = subparsers.add_parser(
        "train",
        help="train a recipe (YAML) into runs/<name>/",
        description="Train a spiking network from a YAML recipe. Writes runs/<name>/ with config.yaml, "
        "metrics.csv, checkpoints/{last,best}.pt and eval.json. best.pt is selected on "
        "data.valid_split when the recipe sets one (else on the test split); the test split "
        "then reports best.pt once, after the last epoch.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("config", nargs="?", help="recipe YAML (experiments/*.yaml); optional with --resume RUN")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field, e.g. train.epochs=3 (repeatable)",
    )
    parser.add_argument(
        "--resume",
        nargs="?",
        const=True,
        default=False,
        metavar="RUN",
        help="continue from checkpoints/last.pt (of the recipe's run, or of the RUN folder)",
    )
    parser.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="run folder (default: the recipe's run.out_dir/run.name, i.e. runs/<recipe name>)",
    )
    parser.add_argument("--force", action="store_true", help="start over in a run folder that has checkpoints")
    parser.add_argument(
        "--nproc-per-node",
        type=int,
        default=1,
        metavar="N",
        help="data-parallel processes on this machine (relaunches under torchrun)",
    )
    parser.set_defaults(func=run)
    return parser


def _config_path(args: argparse.Namespace) -> tuple[str, bool]:
    """The recipe to load and whether to resume."""
    from pathlib import Path

    from snnlab.errors import ConfigError

    if isinstance(args.resume, str):
        if args.config:
            raise ConfigError("give either CONFIG --resume or --resume RUN, not both a config and a run folder")
        run_cfg = Path(args.resume) / "config.yaml"
        if not run_cfg.is_file():
            raise ConfigError(f"--resume {args.resume}: no config.yaml in that folder (not a run folder)")
        return str(run_cfg), True
    if not args.config:
        raise ConfigError(
            "a recipe is needed: snnlab train experiments/<recipe>.yaml, a shipped recipe by name "
            "(snnlab recipes lists them), or --resume RUN"
        )
    from snnlab.commands._recipes import resolve_recipe

    return str(resolve_recipe(args.config)), bool(args.resume)


def _relaunch_argv(args: argparse.Namespace) -> list[str]:
    """The ``train`` arguments each torchrun worker receives (everything but ``--nproc-per-node``)."""
    argv = ["train"] + ([args.config] if args.config else [])
    for item in args.overrides:
        argv += ["--set", item]
    if args.out:
        argv += ["--out", args.out]
    if isinstance(args.resume, str):
        argv += ["--resume", args.resume]
    elif args.resume:
        argv.append("--resume")
    return argv + (["--force"] if args.force else [])


def run(args: argparse.Namespace) -> int:
    """Load the recipe, train (or relaunch under torchrun), print a one-line summary."""
    from snnlab.train.config import load_config

    if args.nproc_per_node < 1:
        from snnlab.errors import ConfigError

        raise ConfigError(f"--nproc-per-node must be >= 1, got {args.nproc_per_node}")
    path, resume = _config_path(args)
    cfg = load_config(path, args.overrides)  # a bad recipe stops here, before torchrun starts
    if args.nproc_per_node > 1 and "WORLD_SIZE" not in os.environ:
        from snnlab.train.distributed import DistContext, launch, per_rank_batch

        per_rank_batch(cfg.data.batch_size, DistContext(0, args.nproc_per_node))  # checked before torchrun
        return launch(args.nproc_per_node, _relaunch_argv(args), debug=bool(getattr(args, "debug", False)))
    if isinstance(args.resume, str) or args.out:
        from pathlib import Path

        from snnlab.errors import ConfigError

        if isinstance(args.resume, str) and args.out and Path(args.out) != Path(args.resume):
            raise ConfigError(f"--out {args.out} and --resume {args.resume} name two run folders; give one")
        run_dir = Path(args.out or args.resume)
        cfg.run.out_dir, cfg.run.name = str(run_dir.parent), run_dir.name
    from snnlab.train import Trainer

    summary = Trainer(cfg, resume=resume, overwrite=args.force).fit()
    if int(os.environ.get("RANK", "0")) == 0:
        print(summary_line(summary, cfg.data.test_split))
    return 0


def summary_line(summary: dict[str, Any], test_split: str = "test") -> str:
    """``done: RUN  best valid_acc ... (epoch k, selected on ...); test accuracy of best.pt ...``."""
    from snnlab.train.evaluation import selection_note

    line = (
        f"done: {summary['run_dir']}  best {summary['selected_on']} {summary['best']:.4f} "
        f"(epoch {summary['best_epoch']}, {selection_note(summary, test_split)})"
    )
    test = summary.get("test")
    if test:
        line += (
            f"; test accuracy of best.pt {test['accuracy']:.2%}, of the last epoch "
            f"{test['accuracy_last']:.2%} ({test['samples']} '{test['split']}' samples)"
        )
    return line
