"""Hardware report of a run: energy and latency per chip, plots, as report.md and report.html.

The HTML file stands alone (figures embedded as base64 PNGs); it opens with the run's name,
dataset, test accuracy (from ``eval.json``) and the date, and gives every activity figure its
unit and meaning.

:func:`build_report` takes the graph, activity and optional spike raster explicitly, so it runs
without training; ``snnlab report RUN`` loads them from the run folder (``model.nir``,
``activity.json``, ``spikes.npz``) and calls it.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

from snnlab.analysis import plots
from snnlab.analysis.metrics import summary
from snnlab.errors import MappingError
from snnlab.fmt import plural
from snnlab.ir.activity import ActivityProfile
from snnlab.results import eval_path


def _map(graph: Any, profile: Any) -> tuple[Any, str]:
    from snnlab.hw import map_graph

    if graph is None:
        return None, ""
    try:
        return map_graph(graph, profile), ""
    except MappingError as err:
        return None, str(err)


def chip_costs(
    hw_names: list[str], graph: Any, activity: ActivityProfile, steps: int | None = None
) -> tuple[list, dict]:
    """Cost reports (one per chip) and the mappings that succeeded."""
    from snnlab.hw import estimate, load_profile

    reports, mappings = [], {}
    for name in hw_names:
        profile = load_profile(name)
        mapping, error = _map(graph, profile)
        report = estimate(activity, profile, mapping=mapping, steps=steps)
        report.fits, report.mapping_error = mapping is not None or graph is None, error
        reports.append(report)
        if mapping is not None:
            mappings[profile.name] = mapping
    return reports, mappings


def energy_per_inference(activity: ActivityProfile, hw: str = "") -> dict[str, float]:
    """Energy (J) of a profile by the 45 nm MAC/AC convention and, when named, on the chip ``hw``."""
    from snnlab.hw import estimate

    out = {"cmos45_mac_ac_j": estimate(activity, None, method="spikformer").total_j}
    if hw and hw.lower() != "none":
        out[f"{hw}_j"] = estimate(activity, hw).total_j
    return out


def energy_basis(hw: str = "") -> dict[str, str]:
    """What each key of :func:`energy_per_inference` is (a chip's title says whose figures it uses)."""
    from snnlab.hw import load_profile
    from snnlab.hw.energy import SPIKFORMER_TITLE

    basis = {"cmos45_mac_ac_j": SPIKFORMER_TITLE}
    if hw and hw.lower() != "none":
        basis[f"{hw}_j"] = load_profile(hw).title
    return basis


def _fmt(value: float, unit: str) -> str:
    for scale, prefix in ((1, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"), (1e-12, "p")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def _rows(reports: list) -> list[list[str]]:
    rows = []
    for r in reports:
        util = "-" if r.utilisation is None else f"{100 * r.utilisation:.1f}% of {plural(r.cores_used, 'core')}"
        fits = (
            f"no: {r.mapping_error}"
            if r.mapping_error
            else ("yes" if r.cores_used is not None else "unchecked (no graph)")
        )
        rows.append(
            [
                r.label,
                r.title or r.hardware,
                _fmt(r.total_j, "J"),
                _fmt(r.dynamic_j, "J"),
                _fmt(r.latency_s, "s"),
                fits,
                util,
            ]
        )
    return rows


HEADER = ["chip", "what the figures are", "energy / inference", "dynamic", "latency / inference", "fits", "utilisation"]

# Activity figures of the report: label, unit and one line of meaning (all per inference).
METRICS: dict[str, tuple[str, str, str]] = {
    "Effective_MACs": (
        "effective MACs",
        "operations",
        "multiply-accumulates on real-valued inputs (non-zero inputs x fan-out), summed over all steps",
    ),
    "Effective_ACs": (
        "effective ACs",
        "operations",
        "accumulates triggered by input spikes (spikes x fan-out), summed over all steps",
    ),
    "Dense": (
        "dense synaptic operations",
        "operations",
        "what a dense clock-driven run of the same layers does over all steps (every input x fan-out)",
    ),
    "ANN_pass_MACs": (
        "ANN one-pass MACs",
        "operations",
        "MACs of one dense forward pass of the same weights (the ANN baseline)",
    ),
    "activation_sparsity": (
        "activation sparsity",
        "fraction, 0-1",
        "share of neuron outputs that are zero over all neurons and steps (1 = silent)",
    ),
    "neuron_updates": ("neuron updates", "updates", "membrane state updates, one per neuron per step"),
    "spikes": ("spikes", "spikes", "spikes emitted by all neuron layers over all steps"),
    "parameter_count": ("parameters", "count", "trainable and fixed parameters of the model"),
    "footprint_bytes": ("memory footprint", "bytes", "parameters and buffers as stored (NeuroBench footprint)"),
    "connection_sparsity": ("connection sparsity", "fraction, 0-1", "share of zero weights in the connection layers"),
}


def _metric_rows(metrics: dict[str, Any]) -> list[list[str]]:
    rows = []
    for key, value in metrics.items():
        label, unit, meaning = METRICS.get(key, (key, "", "model-level figure recorded with the activity profile"))
        text = f"{value:.6g}" if isinstance(value, float) else str(value)
        rows.append([label, text, unit, meaning])
    return rows


def run_header(run_dir: Path) -> dict[str, str]:
    """Run name, dataset, model, test accuracy (from ``eval.json`` when present) and today's date."""
    import datetime
    import json

    head = {
        "run": run_dir.resolve().name,
        "dataset": "-",
        "model": "-",
        "accuracy": "not evaluated (no eval.json)",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    try:
        info = json.loads(eval_path(run_dir).read_text())
    except (OSError, ValueError):
        return head
    if not isinstance(info, dict):
        return head
    head["dataset"], head["model"] = str(info.get("dataset", "-")), str(info.get("model", "-"))
    if isinstance(info.get("accuracy"), (int, float)):
        head["accuracy"] = (
            f"{100 * info['accuracy']:.2f} % on {info.get('samples', '?')} '{info.get('split', 'test')}' "
            f"samples ({info.get('checkpoint', 'best')}.pt, epoch {info.get('epoch', '?')})"
        )
    return head


CONVENTION = (
    "ANN baseline = one dense forward pass of the same weights, every synaptic operation a 45 nm MAC "
    "(4.6 pJ, arithmetic only); it runs once per input, not once per SNN time step. The SNN by the same "
    "convention pays 4.6 pJ per MAC on real-valued inputs and 0.9 pJ per AC on spikes (Horowitz 2014). "
    "The cmos45 chip model adds a 10 pJ weight read per synaptic operation and the neuron updates."
)


def _markdown(
    head: dict[str, str], rows: list[list[str]], metrics: list[list[str]], images: list[Path], notes: list[str]
) -> str:
    lines = [f"# Hardware report: {head['run']}", ""] + [f"- {k}: {v}" for k, v in head.items() if k != "run"]
    lines += ["", "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += ["", "## Activity (per inference)", "", "| figure | value | unit | meaning |", "|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in metrics]
    lines += ["", "## Figures", ""] + [f"![{p.stem}](plots/{p.name})" for p in images]
    lines += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def _embedded(path: Path) -> str:
    """``path`` (a PNG) as a data URI, so the HTML file stands alone."""
    import base64

    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _table(header: list[str], rows: list[list[str]]) -> str:
    esc = html.escape
    out = "<tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>"
    return (
        "<table>"
        + out
        + "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
        + "</table>"
    )


def _html(
    head: dict[str, str], rows: list[list[str]], metrics: list[list[str]], images: list[Path], notes: list[str]
) -> str:
    esc = html.escape
    facts = "".join(f"<li><b>{esc(k)}</b>: {esc(v)}</li>" for k, v in head.items() if k != "run")
    figs = "".join(
        f'<figure><img src="{_embedded(p)}" alt="{esc(p.stem)}"><figcaption>{esc(CAPTIONS.get(p.stem, p.stem))}'
        "</figcaption></figure>"
        for p in images
    )
    note = "".join(f"<li>{esc(n)}</li>" for n in notes)
    style = (
        "body{font-family:sans-serif;max-width:62em;margin:auto;padding:0 1em}table{border-collapse:collapse}"
        "td,th{border:1px solid #999;padding:4px;vertical-align:top}img{max-width:100%}figure{margin:1em 0}"
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Hardware report: {esc(head['run'])}</title>"
        f"<style>{style}</style></head><body><h1>Hardware report: {esc(head['run'])}</h1><ul>{facts}</ul>"
        f"<h2>Energy and latency per chip</h2>{_table(HEADER, rows)}"
        f"<h2>Activity (per inference)</h2>{_table(['figure', 'value', 'unit', 'meaning'], metrics)}"
        f"<h2>Figures</h2>{figs}<h2>Notes</h2><ul>{note}</ul></body></html>\n"
    )


CAPTIONS = {
    "energy_breakdown": "Share of each layer (and static power) in the energy per inference, per chip; total at the right.",
    "snn_vs_ann": "Energy per inference: the ANN baseline (one dense pass), the SNN by the 45 nm convention "
    "(arithmetic only and, as cmos45, with weight reads), and each chip model.",
    "hw_firing_rates": "Firing rates of the recorded layers (spikes per neuron per step).",
    "spike_raster": "Spikes of one test sample: neuron index against time step, per layer.",
    "utilisation": "Neuron utilisation of the cores each chip uses (mean, range, number of cores).",
}


def _comparison(activity: ActivityProfile) -> str:
    """One sentence: the SNN against one dense ANN pass, both by the 45 nm arithmetic-only convention."""
    from snnlab.hw import ann_energy_j, estimate

    snn = estimate(activity, "cmos45", method="spikformer").total_j
    ann = ann_energy_j(activity.per_inference())
    ratio = (
        f"the SNN costs {snn / ann:.2g}x the ANN" if snn >= ann else f"the SNN costs {ann / snn:.2g}x less than the ANN"
    )
    return (
        f"45 nm, arithmetic only: SNN {_fmt(snn, 'J')} per inference vs {_fmt(ann, 'J')} for one dense pass of "
        f"the same weights as an ANN: {ratio}."
    )


def _figures(out: Path, reports: list, mappings: dict, activity: ActivityProfile, spikes: dict | None) -> list[Path]:
    from snnlab.hw import ann_energy_j, estimate

    snn = estimate(activity, "cmos45", method="spikformer").total_j
    images = [
        plots.energy_breakdown(reports, out / "energy_breakdown.png"),
        plots.snn_vs_ann(ann_energy_j(activity.per_inference()), snn, reports, out / "snn_vs_ann.png"),
        plots.firing_rates(activity, spikes, out / "hw_firing_rates.png"),
    ]
    raster = out / "spike_raster.png"  # training's raster (with the input) when the run has one
    if raster.is_file():
        images.append(raster)
    elif spikes:
        images.append(plots.raster(spikes, raster))
    if mappings:
        images.append(plots.utilisation(mappings, out / "utilisation.png"))
    return images


def build_report(
    run_dir: str | Path,
    hw_names: list[str],
    graph: Any = None,
    activity: ActivityProfile | None = None,
    spikes: dict[str, np.ndarray] | None = None,
    steps: int | None = None,
    unmapped_reason: str | None = None,
) -> dict[str, Any]:
    """Write ``report.md``, ``report.html`` and ``plots/*.png`` into ``run_dir``.

    Args:
        run_dir: the run folder (created if missing).
        hw_names: chip profiles to cost, e.g. ``["loihi2", "speck"]``.
        graph: the network as a ``nir.NIRGraph`` (for mapping; without it fit is unchecked).
        activity: the measured :class:`ActivityProfile` (required).
        spikes: optional raster per layer, arrays (T, B, ...) or (T, N) of 0/1.
        steps: time steps actually used per inference (early exit), default the profile's.
        unmapped_reason: why there is no graph (e.g. the model does not export to NIR); every chip
            then reports "no: <reason>" in its fit column instead of "unchecked".

    Returns:
        Paths written and the cost reports.
    """
    if activity is None:
        raise ValueError("build_report needs an activity profile (activity.json in the run folder)")
    run_dir = Path(run_dir)
    out = run_dir / "plots"
    out.mkdir(parents=True, exist_ok=True)
    reports, mappings = chip_costs(list(hw_names), graph, activity, steps)
    if graph is None and unmapped_reason:
        for report in reports:
            report.mapping_error = f"cannot be mapped: {unmapped_reason}"
    images = _figures(out, reports, mappings, activity, spikes)
    rows = _rows(reports)
    notes = [CONVENTION, _comparison(activity)] + [
        f"{r.hardware}: {len(r.assumptions)} profile numbers are labelled assumptions ({', '.join(r.assumptions[:6])}...)"
        for r in reports
        if r.assumptions
    ]
    notes.append(
        "Energies per inference; latency = time per step x steps. Counts from a "
        f"{activity.source} run of {activity.samples} samples x {activity.timesteps} steps."
    )
    from snnlab.hw import ann_pass_macs

    metrics = _metric_rows({**summary(activity), "ANN_pass_MACs": ann_pass_macs(activity.per_inference())})
    head = run_header(run_dir)
    (run_dir / "report.md").write_text(_markdown(head, rows, metrics, images, notes))
    (run_dir / "report.html").write_text(_html(head, rows, metrics, images, notes))
    return {"md": run_dir / "report.md", "html": run_dir / "report.html", "plots": images, "reports": reports}
