"""``snnlab export RUN|MODEL.nir --to nir|<hw profile>``: write a NIR graph or a chip descriptor."""

from __future__ import annotations

import argparse
import textwrap

EPILOG = textwrap.dedent(
    """\
    examples:
      snnlab export runs/demo --to nir                    # writes runs/demo/model.nir
      snnlab export runs/demo --to nir --out demo.nir
      snnlab export runs/demo --to loihi2                 # writes runs/demo/hw/loihi2.json
      snnlab export model.nir --to speck --out speck.json # a graph written by any framework
      snnlab export runs/conv --to nir --input-shape 2,34,34 --dt 1e-3
      snnlab export runs/demo --to nir --readout lif      # runs/demo/model_lif.nir for spikingjelly, norse
      snnlab export runs/demo --to nir --readout lif --dt 1e-4   # for snnTorch (its importer assumes dt = 1e-4 s)

    RUN is a run folder written by `snnlab train` (config.yaml, checkpoints/best.pt);
    MODEL is a .nir file. Time constants are written in seconds (tau_s = tau_steps * dt).
    --readout lif|if rewrites the leaky-integrator (LI) readout, which snnTorch and spikingjelly
    cannot load, as a LIF or IF node that never fires (threshold 1e9): read the class from its
    membrane. lif keeps the membrane exactly; if integrates without leak (docs/export.md).
    """
)


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``export`` subcommand."""
    parser = subparsers.add_parser(
        "export",
        help="export a run as a NIR graph or a chip descriptor",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("source", metavar="RUN|MODEL", help="run folder (runs/<name>) or a .nir file")
    parser.add_argument("--to", default="nir", help="'nir' or a hardware profile name / YAML path (default: nir)")
    parser.add_argument("--out", default=None, help="output file (default: RUN/model.nir or RUN/hw/<profile>.json)")
    parser.add_argument("--dt", type=float, default=None, help="seconds per step (default: model.dt or graph dt)")
    parser.add_argument(
        "--input-shape",
        default=None,
        help="per-sample input shape, comma separated, for conv models without input_shape",
    )
    parser.add_argument(
        "--readout",
        choices=("li", "if", "lif"),
        default="li",
        help="how to write an LI readout: li (default), or a never-firing lif / if for peers without LI",
    )
    parser.set_defaults(func=run)
    return parser


def _shape(text: str | None) -> tuple[int, ...] | None:
    from snnlab.errors import ConfigError

    if text is None:
        return None
    try:
        shape = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        shape = ()
    if not shape or min(shape) < 1:
        raise ConfigError(f"--input-shape: expected positive integers separated by commas (e.g. 2,34,34), got {text!r}")
    return shape


def _graph(args: argparse.Namespace):
    from pathlib import Path

    from snnlab import ir
    from snnlab.errors import CheckpointError

    source = Path(args.source)
    if source.is_file():
        return ir.load(source), source.parent
    if not source.is_dir():
        raise CheckpointError(f"{str(source)!r} does not exist (expected a run folder runs/<name> or a .nir file)")
    from snnlab.train import load_run

    model = load_run(source).model
    return ir.to_nir(model, args.dt, input_shape=_shape(args.input_shape)), source


def _descriptor(graph, profile: str, out) -> object:
    from snnlab.errors import ProfileError

    try:
        from snnlab.hw import write_descriptor
    except ImportError as err:
        raise ProfileError(f"--to {profile}: chip descriptors need snnlab.hw.write_descriptor ({err})") from None
    return write_descriptor(graph, profile, out)


def run(args: argparse.Namespace) -> int:
    """Export the graph of a run or file; print the path written."""
    from pathlib import Path

    from snnlab import ir
    from snnlab.commands._checks import output_file
    from snnlab.errors import ConfigError
    from snnlab.results import descriptor_path

    output_file(args.out, "--out", "model.nir" if args.to == "nir" else "chip.json")
    if args.readout != "li" and args.to != "nir":
        raise ConfigError(f"--readout {args.readout} applies to --to nir (chip descriptors map the LI readout)")
    graph, folder = _graph(args)
    if args.to == "nir":
        from snnlab.ir.readout import with_readout

        graph = with_readout(graph, args.readout, args.dt)
        default = "model.nir" if args.readout == "li" else f"model_{args.readout}.nir"  # model.nir stays LI
        out = Path(args.out) if args.out else folder / default
        written = ir.save(graph, out)
    else:
        name = Path(args.to).stem
        out = Path(args.out) if args.out else descriptor_path(folder, name)
        written = _descriptor(graph, args.to, out)
    print(written)
    return 0
