"""Hardware report of a run: energy and latency per chip, plots, as report.md and report.html.

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
from snnlab.ir.activity import ActivityProfile
from snnlab.errors import MappingError


def _map(graph: Any, profile: Any) -> tuple[Any, str]:
    from snnlab.hw import map_graph

    if graph is None:
        return None, ""
    try:
        return map_graph(graph, profile), ""
    except MappingError as err:
        return None, str(err)


def chip_costs(hw_names: list[str], graph: Any, activity: ActivityProfile, steps: int | None = None) -> tuple[list, dict]:
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


def _fmt(value: float, unit: str) -> str:
    for scale, prefix in ((1, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n"), (1e-12, "p")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def _rows(reports: list) -> list[list[str]]:
    rows = []
    for r in reports:
        util = "-" if r.utilisation is None else f"{100 * r.utilisation:.1f}% of {r.cores_used} cores"
        fits = f"no: {r.mapping_error}" if r.mapping_error else ("yes" if r.cores_used is not None else "unchecked (no graph)")
        rows.append([r.hardware, _fmt(r.total_j, "J"), _fmt(r.dynamic_j, "J"), _fmt(r.latency_s, "s"), fits, util])
    return rows


HEADER = ["chip", "energy / inference", "dynamic", "latency / inference", "fits", "utilisation"]


def _markdown(rows: list[list[str]], metrics: dict[str, Any], images: list[Path], notes: list[str]) -> str:
    lines = ["# Hardware report", "", "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += ["", "## Activity (per inference)", ""] + [f"- {k}: {v:.6g}" if isinstance(v, float) else f"- {k}: {v}" for k, v in metrics.items()]
    lines += ["", "## Figures", ""] + [f"![{p.stem}](plots/{p.name})" for p in images]
    lines += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def _html(rows: list[list[str]], metrics: dict[str, Any], images: list[Path], notes: list[str]) -> str:
    esc = html.escape
    table = "<tr>" + "".join(f"<th>{esc(h)}</th>" for h in HEADER) + "</tr>"
    table += "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    items = "".join(f"<li>{esc(k)}: {esc(f'{v:.6g}' if isinstance(v, float) else str(v))}</li>" for k, v in metrics.items())
    figs = "".join(f'<figure><img src="plots/{esc(p.name)}" alt="{esc(p.stem)}"><figcaption>{esc(p.stem)}</figcaption></figure>' for p in images)
    note = "".join(f"<li>{esc(n)}</li>" for n in notes)
    style = "body{font-family:sans-serif;max-width:60em;margin:auto}table{border-collapse:collapse}td,th{border:1px solid #999;padding:4px}img{max-width:100%}"
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Hardware report</title><style>{style}</style></head><body>"
            f"<h1>Hardware report</h1><table>{table}</table><h2>Activity (per inference)</h2><ul>{items}</ul>"
            f"<h2>Figures</h2>{figs}<h2>Notes</h2><ul>{note}</ul></body></html>\n")


def _figures(out: Path, reports: list, mappings: dict, activity: ActivityProfile, spikes: dict | None) -> list[Path]:
    from snnlab.hw import ann_energy_j, estimate

    snn = estimate(activity, "cmos45", method="spikformer").total_j
    images = [
        plots.energy_breakdown(reports, out / "energy_breakdown.png"),
        plots.snn_vs_ann(ann_energy_j(activity.per_inference()), snn, {r.hardware: r.total_j for r in reports}, out / "snn_vs_ann.png"),
        plots.firing_rates(activity, spikes, out / "hw_firing_rates.png"),
    ]
    if spikes:
        images.append(plots.raster(spikes, out / "raster.png"))
    if mappings:
        images.append(plots.utilisation(mappings, out / "utilisation.png"))
    return images


def build_report(run_dir: str | Path, hw_names: list[str], graph: Any = None, activity: ActivityProfile | None = None,
                 spikes: dict[str, np.ndarray] | None = None, steps: int | None = None) -> dict[str, Any]:
    """Write ``report.md``, ``report.html`` and ``plots/*.png`` into ``run_dir``.

    Args:
        run_dir: the run folder (created if missing).
        hw_names: chip profiles to cost, e.g. ``["loihi2", "speck"]``.
        graph: the network as a ``nir.NIRGraph`` (for mapping; without it fit is unchecked).
        activity: the measured :class:`ActivityProfile` (required).
        spikes: optional raster per layer, arrays (T, B, ...) or (T, N) of 0/1.
        steps: time steps actually used per inference (early exit), default the profile's.

    Returns:
        Paths written and the cost reports.
    """
    if activity is None:
        raise ValueError("build_report needs an activity profile (activity.json in the run folder)")
    run_dir = Path(run_dir)
    out = run_dir / "plots"
    out.mkdir(parents=True, exist_ok=True)
    reports, mappings = chip_costs(list(hw_names), graph, activity, steps)
    images = _figures(out, reports, mappings, activity, spikes)
    rows = _rows(reports)
    notes = [f"{r.hardware}: {len(r.assumptions)} profile numbers are labelled assumptions ({', '.join(r.assumptions[:6])}...)"
             for r in reports if r.assumptions]
    notes.append("Energies per inference; latency = time per step x steps. Counts from a "
                 f"{activity.source} run of {activity.samples} samples x {activity.timesteps} steps.")
    metrics = summary(activity)
    (run_dir / "report.md").write_text(_markdown(rows, metrics, images, notes))
    (run_dir / "report.html").write_text(_html(rows, metrics, images, notes))
    return {"md": run_dir / "report.md", "html": run_dir / "report.html", "plots": images, "reports": reports}
