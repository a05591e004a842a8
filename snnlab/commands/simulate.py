"""``snnlab simulate RUN|FILE.nir``: run a NIR graph event-driven, write spikes and counts."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

EPILOG = """\
examples:
  snnlab simulate runs/demo                          # runs/demo/model.nir on runs/demo/input.npz if present
  snnlab simulate model.nir --input x.npz --out sim  # x: dense frames (T, B, ...)
  snnlab simulate model.nir --steps 100 --dt 1e-3    # no input: zeros (biases and recurrence only)
  snnlab simulate model.nir --input dvs.npz --steps 300 --dt 1e-3   # events t (s), x, y, p, sample
"""


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``simulate`` parser."""
    parser = subparsers.add_parser(
        "simulate",
        help="run a NIR graph event-driven and write spikes and counts",
        description="Event-driven simulation of a NIR graph (a .nir file or a run folder with model.nir).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("target", help="a run folder (runs/<name>/ with model.nir) or a .nir file")
    parser.add_argument(
        "--input",
        help=".npz with dense frames 'x' (T, B, ...) (optional 'labels' (B,): a batch-first 'x' is then "
        "refused) or events 't','x','y','p' (t in seconds) and optional 'sample' ids",
    )
    parser.add_argument("--steps", type=int, help="number of steps (default: T of the input)")
    parser.add_argument("--dt", type=float, help="seconds per step when the graph metadata has no dt")
    parser.add_argument("--out", help="output folder (default: <run>/sim or sim_<file stem>)")
    parser.add_argument("--backend", default="auto", help="auto | numba | cuda | reference")
    parser.add_argument(
        "--record",
        default="",
        metavar="LAYERS",
        help="also write the spikes of these populations (comma-separated names, or 'all' for "
        "every hidden population); outputs are always written",
    )
    parser.set_defaults(func=run)
    return parser


def _locate(target: str) -> tuple[Path, Path | None, Path]:
    """(graph file, recorded input or None, default output folder)."""
    from snnlab.errors import CheckpointError

    path = Path(target)
    if path.is_dir():
        graph = path / "model.nir"
        if not graph.is_file():
            raise CheckpointError(
                f"run folder {path} has no model.nir; export it first (snnlab export {path} --to nir)"
            )
        recorded = next((p for p in (path / "input.npz", path / "sim_input.npz") if p.is_file()), None)
        return graph, recorded, path / "sim"
    if not path.is_file():
        raise FileNotFoundError(2, "no such run folder or NIR file", str(path))
    return path, None, path.with_name(f"sim_{path.stem}")


def _inputs(sim: Any, data: dict[str, Any], steps: int | None) -> Any:
    """Dense frames from an input file: 'x', or events 't','x','y','p' (+ 'sample') binned by dt."""
    import numpy as np

    from snnlab.errors import DataError
    from snnlab.sim import events_to_frames

    if {"t", "x", "y", "p"} <= set(data):
        shape = sim.input_shapes[0]
        if len(shape) != 3 or steps is None:
            raise DataError("event input needs a (P, H, W) graph input and --steps")
        return events_to_frames(_event_samples(data), tuple(shape), steps, dt=sim.dt)
    if "x" not in data:
        raise DataError(f"input file holds {sorted(data)}; expected 'x' (T, B, ...) or events t, x, y, p")
    x = np.asarray(data["x"], np.float64)
    if "labels" in data:  # one label per sample: they tell which dim holds the batch
        from snnlab.models.layout import check_layout

        check_layout(x.shape, int(np.asarray(data["labels"]).size), "the graph (input file 'x')")
    return x


def _event_samples(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Events split by the optional 'sample' field (ids 0..B-1); one sample without it."""
    import numpy as np

    from snnlab.errors import DataError

    fields = ("t", "x", "y", "p")
    lengths = {k: np.asarray(data[k]).size for k in fields + (("sample",) if "sample" in data else ())}
    if len(set(lengths.values())) != 1:
        raise DataError(f"event fields need equal lengths, got {lengths}")
    if "sample" not in data:
        return [{k: data[k] for k in fields}]
    ids = np.asarray(data["sample"], np.int64)
    if ids.size and ids.min() < 0:
        raise DataError("event field 'sample' must hold ids >= 0")
    count = int(ids.max()) + 1 if ids.size else 1
    return [{k: np.asarray(data[k])[ids == b] for k in fields} for b in range(count)]


def _recorded(plan: Any, spec: str) -> list[str]:
    """Population names of ``--record`` ('all': every population but inputs and outputs)."""
    from snnlab.errors import ConfigError

    hidden = [p.name for p in plan.populations if p.op not in ("Input", "Output") and not p.name.startswith("__")]
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if names == ["all"]:
        return hidden
    unknown = [n for n in names if n not in {p.name for p in plan.populations}]
    if unknown:
        raise ConfigError(f"--record: no population {unknown[0]!r}; valid: all, {', '.join(hidden)}")
    return names


def run(args: argparse.Namespace) -> int:
    """Simulate and write ``spikes.npz``, ``counts.json`` and ``activity.json`` (the activity profile)."""
    import numpy as np

    from snnlab.commands._checks import input_file, output_dir, positive_int, read_npz
    from snnlab.results import COUNTS, activity_path
    from snnlab.sim import Simulator

    positive_int(args.steps, "--steps")
    out_arg = output_dir(args.out, "--out")
    what = ".npz with dense frames 'x' (T, B, ...) or events t, x, y, p"
    source = input_file(args.input, "--input", what)
    graph, recorded, out_dir = _locate(args.target)
    sim = Simulator(graph, dt=args.dt, backend=args.backend)
    if getattr(args, "record", "").strip():
        sim = Simulator(sim.plan, backend=args.backend, record=_recorded(sim.plan, args.record))
    source = source or recorded
    if source is not None:
        x = _inputs(sim, read_npz(Path(source), what), args.steps)
    else:
        steps = args.steps or 100
        x = [np.zeros((steps, 1) + tuple(s)) for s in sim.input_shapes]
    result = sim.run(x, steps=args.steps)
    out = out_arg or output_dir(str(out_dir), "output folder")
    out.mkdir(parents=True, exist_ok=True)
    arrays = {f"spikes_{k}": v for k, v in result.spikes.items()}
    arrays.update({f"values_{k}": v for k, v in result.values.items()})
    np.savez_compressed(out / "spikes.npz", **arrays)
    (out / COUNTS).write_text(json.dumps(result.to_json(), indent=1))
    profile = result.activity_profile()
    profile.save(activity_path(out))
    print(_summary(result, profile, out))
    return 0


def _summary(result: Any, profile: Any, out: Path) -> str:
    """The closing line: synaptic events as the cost model (and the demo's sim_check) count them.

    counts.json's ``synaptic_events`` also lists the identity edges (a population copied into the
    Output node or through a relay, e.g. every value of an LI readout each step): no weight, no
    synapse, so the activity profile and the cost model leave them out (docs/simulation.md).
    """
    from snnlab.fmt import plural

    events = sum(layer.synaptic_ops for layer in profile.layers if layer.kind == "synapse")
    copies = result.total_synaptic_events() - events
    extra = f" (+{int(round(copies))} copies along identity edges, listed in counts.json)" if copies else ""
    return (
        f"simulated {plural(result.steps, 'step')} x {plural(result.batch, 'sample')}; "
        f"{plural(int(round(events)), 'synaptic event')} in synapse layers{extra}; wrote {out}"
    )
