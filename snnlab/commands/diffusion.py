"""``snnlab diffusion``: train a spiking diffusion model (SDDPM / SDM), sample from it, evaluate it."""

from __future__ import annotations

import argparse
import json
import textwrap
from pathlib import Path
from typing import Any

from snnlab.results import tagged_eval_path, write_results

EPILOG = textwrap.dedent(
    """\
    examples:
      snnlab diffusion train experiments/fmnist_sddpm.yaml
      snnlab diffusion train experiments/fmnist_sddpm.yaml --resume
      snnlab diffusion train experiments/fmnist_sdm_tsm.yaml          # TSM fine-tuning of runs/fmnist_sddpm
      snnlab diffusion sample runs/fmnist_sddpm --sampler ddim --steps 50 --threshold 0.998 --n 64 --seed 0
      snnlab diffusion eval runs/fmnist_sddpm --n 1000 --steps 50 --hw loihi2,speck
    """
)


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``diffusion`` with its ``train``, ``sample`` and ``eval`` subcommands."""
    parser = subparsers.add_parser(
        "diffusion",
        help="spiking diffusion models (SDDPM/SDM): train, sample, eval",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="diffusion_command", metavar="ACTION")
    tr = sub.add_parser("train", help="train a diffusion recipe into runs/<name>/")
    tr.add_argument("config", help="recipe YAML (experiments/*sddpm*.yaml, *sdm_tsm*.yaml)")
    tr.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    tr.add_argument("--out", default=None, metavar="DIR", help="run folder (default runs/<recipe name>)")
    tr.add_argument("--resume", action="store_true", help="continue from checkpoints/last.pt")
    tr.add_argument("--force", action="store_true", help="start over in a run folder that has checkpoints")
    tr.set_defaults(func=run_train)
    for name, func, help_ in (
        ("sample", run_sample, "draw images: a grid PNG and an .npz"),
        ("eval", run_eval, "Frechet distance, score, firing rates, SynOps, energy"),
    ):
        p = sub.add_parser(name, help=help_)
        p.add_argument("run", help="run folder of snnlab diffusion train")
        _sampling_args(p)
        p.set_defaults(func=func)
    ev = sub.choices["eval"]
    ev.add_argument("--samples", help="evaluate these samples (.npz of sample) instead of drawing new ones")
    ev.add_argument(
        "--baseline",
        choices=("real", "noise"),
        default=None,
        help="score n held-out real images (test split: the floor) or n Gaussian-noise images (ceiling)",
    )
    ev.add_argument("--hw", default="loihi2,speck", help="chip profiles for energy (comma-separated, '' for none)")
    ev.add_argument("--metric-epochs", type=int, default=3, help="epochs of the metric classifier if not cached")
    ev.add_argument("--cache", default=None, help="metric cache folder (default: <run>/../_metrics)")
    ev.add_argument(
        "--inception-weights",
        default=None,
        metavar="FILE",
        help="InceptionV3 weights (pytorch-fid's pt_inception-2015-12-05 .pth): adds the papers' FID and IS",
    )
    ev.add_argument("--reference-n", type=int, default=10000, help="training images of the FID reference statistics")
    ev.add_argument("--tag", default=None, help="name of the result file eval/<tag>.json")
    parser.set_defaults(func=lambda args: parser.print_help() or 2)
    return parser


def _sampling_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sampler", choices=("ddim", "ddpm"), default="ddim")
    p.add_argument("--steps", type=int, default=50, help="DDIM steps (ignored by ddpm: all training steps)")
    p.add_argument("--threshold", type=float, default=1.0, help="threshold guidance: scale of every IF threshold")
    p.add_argument("--n", type=int, default=64, help="images to draw")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=128, help="images per sampler batch")
    p.add_argument("--weights", choices=("ema", "model"), default="ema")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--out", default=None, help="output stem (default: <run>/samples/<sampler><steps>_th<threshold>)")


def run_train(args: argparse.Namespace) -> int:
    from snnlab.commands._checks import output_dir
    from snnlab.train.diffusion import DiffusionTrainer, load_recipe

    rec = load_recipe(args.config, args.overrides)
    out = output_dir(args.out, "--out")
    if out is not None:
        rec.run.out_dir, rec.run.name = str(out.parent), out.name
    result = DiffusionTrainer(rec, resume=args.resume, force=args.force).fit()
    print(json.dumps(result))
    return 0


def _tag(args: argparse.Namespace) -> str:
    steps = args.steps if args.sampler == "ddim" else "all"
    return f"{args.sampler}{steps}_th{args.threshold:g}_n{args.n}_s{args.seed}"


def _draw(args: argparse.Namespace) -> tuple[Any, Any, Any, Any]:
    from snnlab.inference.diffusion_sampling import generate
    from snnlab.train.diffusion import load_diffusion_run

    rec, model, schedule = load_diffusion_run(args.run, args.weights)
    images = generate(
        model, schedule, args.n, args.sampler, args.steps, args.threshold, args.seed, batch=args.batch, progress=True
    )
    return rec, model, schedule, images


def run_sample(args: argparse.Namespace) -> int:
    """``--threads`` holds for this command only (an in-process caller keeps its own count)."""
    from snnlab.train.threads import torch_threads

    with torch_threads(args.threads):
        return _sample(args)


def _sample(args: argparse.Namespace) -> int:
    from snnlab.inference.diffusion_sampling import save_samples

    _, _, _, images = _draw(args)
    stem = Path(args.out) if args.out else Path(args.run) / "samples" / _tag(args)
    npz, png = save_samples(images, stem)
    print(f"wrote {png} and {npz} ({images.shape[0]} images)")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    """``--threads`` holds for this command only (an in-process caller keeps its own count)."""
    from snnlab.train.threads import torch_threads

    with torch_threads(args.threads):
        return _eval(args)


def _eval(args: argparse.Namespace) -> int:
    from snnlab.inference.diffusion_sampling import load_samples, save_samples

    if args.baseline:
        return _eval_baseline(args)
    path = tagged_eval_path(args.run, args.tag or _tag(args))  # a bad --tag fails before any work
    if args.samples:
        from snnlab.train.diffusion import load_diffusion_run

        rec, model, schedule = load_diffusion_run(args.run, args.weights)
        images = load_samples(args.samples)
    else:
        rec, model, schedule, images = _draw(args)
        save_samples(images, Path(args.run) / "samples" / _tag(args))
    report = _evaluate(args, rec, model, schedule, images)
    out = write_results(path, report)
    print(json.dumps({k: v for k, v in report.items() if k not in ("firing_rates", "per_sample")}, indent=2))
    print(f"wrote {out}")
    return 0


def _evaluate(args: argparse.Namespace, rec: Any, model: Any, schedule: Any, images: Any) -> dict[str, Any]:
    from snnlab.analysis.diffusion_cost import denoiser_activity, firing_rates, per_sample_costs
    from snnlab.inference.diffusion import ddim_timesteps
    from snnlab.inference.diffusion_sampling import guidance
    from snnlab.train.feature_net import load_or_train_metric

    cache = args.cache or str(Path(args.run).resolve().parent / "_metrics")
    metric = load_or_train_metric(rec.data, cache, epochs=args.metric_epochs)
    report: dict[str, Any] = {
        "run": str(args.run),
        "sampler": args.sampler,
        "steps": args.steps,
        "threshold": args.threshold,
        "weights": args.weights,
        "seed": args.seed,
        "metric_valid_accuracy": metric.valid_accuracy,
        **metric.evaluate(images),
    }
    if args.inception_weights:
        from snnlab.train.feature_net import inception_metric

        report.update(inception_metric(args.inception_weights, rec.data, cache, args.reference_n).evaluate(images))
    evals = schedule.steps if args.sampler == "ddpm" else args.steps
    probe = ddim_timesteps(schedule.steps, min(evals, 10))
    with guidance(model, args.threshold):
        profile = denoiser_activity(model, schedule, probe, batch=8, seed=args.seed, images=images[:8])
    rates = firing_rates(profile)
    hw = [h for h in args.hw.split(",") if h] if model.spiking else []
    report.update(firing_rate_mean=rates["mean"], firing_rates=rates, per_sample=per_sample_costs(profile, evals, hw))
    return report


def _eval_baseline(args: argparse.Namespace) -> int:
    """The metric's floor (held-out real images) or ceiling (noise), with the run's data and n."""
    import dataclasses

    import torch

    from snnlab.train.diffusion import load_diffusion_run
    from snnlab.train.diffusion_data import load_images
    from snnlab.train.feature_net import images_to_model_range, load_or_train_metric

    path = tagged_eval_path(args.run, args.tag or f"baseline_{args.baseline}_n{args.n}")
    rec, _, _ = load_diffusion_run(args.run, args.weights)
    if args.baseline == "real":
        images = images_to_model_range(load_images(dataclasses.replace(rec.data, limit=args.n), "test"))
    else:
        gen = torch.Generator().manual_seed(args.seed)
        shape = (args.n, rec.model.get("in_channels", 3), rec.data.image_size, rec.data.image_size)
        images = torch.randn(shape, generator=gen).clamp(-1, 1)
    cache = args.cache or str(Path(args.run).resolve().parent / "_metrics")
    metric = load_or_train_metric(rec.data, cache, epochs=args.metric_epochs)
    report = {
        "run": str(args.run),
        "baseline": args.baseline,
        "metric_valid_accuracy": metric.valid_accuracy,
        **metric.evaluate(images),
    }
    out = write_results(path, report)
    print(json.dumps(report, indent=2))
    print(f"wrote {out}")
    return 0
