"""``snnlab report RUN --hw loihi2,speck``: energy, latency and fit per chip, as HTML and Markdown."""

from __future__ import annotations

import argparse
import textwrap

EPILOG = textwrap.dedent(
    """\
    examples:
      snnlab report runs/demo --hw loihi2,speck
      snnlab report runs/shd_delays --hw loihi,truenorth,gpu --steps 50
      snnlab report runs/demo --hw my_chip.yaml        # a user profile following hw/profile.schema.json

    reads RUN/model.nir (mapping), RUN/activity.json (counts, written by eval) and, if present,
    RUN/spikes.npz (one raster per layer); writes RUN/report.html, RUN/report.md, RUN/plots/*.png
    and RUN/hw/<chip>.json for every chip the network fits.
    """
)


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``report`` subcommand."""
    parser = subparsers.add_parser(
        "report",
        help="hardware energy/latency report of a run",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run", help="run folder (runs/<name>)")
    parser.add_argument(
        "--hw", default="loihi2,speck,truenorth,gpu", help="comma-separated profile names or YAML paths"
    )
    parser.add_argument("--steps", type=int, default=None, help="time steps used per inference (e.g. with early exit)")
    parser.set_defaults(func=run)
    return parser


def load_rasters(path):
    """Per-layer spike rasters of a ``spikes.npz``, or None when the file is absent.

    Reads the layout ``snnlab eval`` writes (``layers`` names + ``layer{i}`` arrays, beside the
    input, labels and outputs) as well as a plain file of one array per layer.
    """

    from snnlab.commands._checks import read_npz
    from snnlab.train.recording import load_spikes

    if not path.is_file():
        return None
    data = read_npz(path, "spike rasters written by snnlab eval RUN")
    if "layers" not in data:
        return data
    try:
        return load_spikes(path)["layers"]
    except (KeyError, ValueError, TypeError) as err:
        from snnlab.errors import DataError

        raise DataError(
            f"{path}: damaged spike rasters (missing {err}); write them again with snnlab eval RUN"
        ) from None


def export_failure(run_dir) -> str | None:
    """Why the run's model does not export to NIR (so no chip mapping), or None when it does
    (then ``snnlab export RUN --to nir`` writes the graph the fit check needs)."""
    from snnlab.errors import GraphError
    from snnlab.ir import to_nir
    from snnlab.train import load_run

    if not (run_dir / "checkpoints" / "best.pt").is_file():
        return None
    model = load_run(run_dir).model
    if getattr(model, "nir_unsupported", None):  # a family that knows it cannot be exported says why
        return f"no NIR graph: {model.nir_unsupported}"
    try:
        to_nir(model)
    except (GraphError, RuntimeError, ValueError) as err:
        return f"no NIR graph ({type(err).__name__}: {str(err).splitlines()[0]})"
    return None


def run(args: argparse.Namespace) -> int:
    """Load the run folder and write the report."""
    from pathlib import Path

    from snnlab import ir
    from snnlab.analysis.report import build_report
    from snnlab.commands._checks import positive_int
    from snnlab.errors import CheckpointError, ConfigError
    from snnlab.hw import write_descriptor
    from snnlab.hw.profiles import available_profiles
    from snnlab.ir.activity import ActivityProfile
    from snnlab.results import activity_path, descriptor_path

    run_dir = Path(args.run)
    if not run_dir.is_dir():
        raise CheckpointError(f"run folder {str(run_dir)!r} does not exist")
    activity_file = activity_path(run_dir)
    if not activity_file.is_file():
        raise CheckpointError(f"{activity_file} is missing; run `snnlab eval {run_dir}` to measure activity first")
    positive_int(args.steps, "--steps")
    names = [n.strip() for n in args.hw.split(",") if n.strip()]
    if not names:
        raise ConfigError(
            f"--hw {args.hw!r}: no profile named; valid: comma-separated names ({', '.join(available_profiles())}) "
            "or YAML paths"
        )
    activity = ActivityProfile.load(activity_file)
    graph = ir.load(run_dir / "model.nir") if (run_dir / "model.nir").exists() else None
    reason = None if graph is not None else export_failure(run_dir)
    result = build_report(
        run_dir,
        names,
        graph=graph,
        activity=activity,
        spikes=load_rasters(run_dir / "spikes.npz"),
        steps=args.steps,
        unmapped_reason=reason,
    )
    for report in result["reports"]:
        if graph is not None and not report.mapping_error:
            write_descriptor(graph, names[result["reports"].index(report)], descriptor_path(run_dir, report.hardware))
        print(
            f"{report.label:12s} {report.total_j:.3e} J  {report.latency_s:.3e} s  "
            f"{'fits' if not report.mapping_error else 'does not fit: ' + report.mapping_error}"
        )
    print(f"wrote {result['html']} and {result['md']}")
    return 0
