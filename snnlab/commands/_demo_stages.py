"""The stages of ``snnlab demo`` after training: NIR export, event-driven check, early exit, report.

Each is ``stage(ctx: DemoContext) -> None`` like the training stages in
:mod:`snnlab.commands.demo`: it writes into the run folder and appends one line to the printed
summary. A stage that cannot run on the trained model (a layer NIR cannot express, a missing
activity profile) prints a warning and lets the demo go on; so does an event-driven run that
disagrees with the dense model.
"""

from __future__ import annotations

import argparse
import functools
import time
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from snnlab.errors import CheckpointError, GraphError, SnnlabError
from snnlab.results import activity_path, descriptor_path, study_path, write_results
from snnlab.sim.check import READOUT_ATOL, compare_runs, identical

if TYPE_CHECKING:
    import nir
    import torch

    from snnlab.commands.demo import DemoContext
    from snnlab.sim import SimResult

SIM_SAMPLES = 32  # test samples of the event-driven check
HW_CHIPS = ("loihi2", "speck", "spinnaker2", "truenorth", "cmos45", "gpu")
EARLY_EXIT_HW = "loihi2"  # chip whose energy early_exit.json reports


def warn(ctx: DemoContext, message: str) -> None:
    """Print ``message`` as a warning now and repeat it in the summary."""
    print(f"[demo] WARNING: {message}")
    ctx.lines.append(f"WARNING: {message}")


def guarded(stage: Callable[[DemoContext], None]) -> Callable[[DemoContext], None]:
    """Turn a user-level error of ``stage`` (an ``SnnlabError``) into a warning; the demo goes on."""

    @functools.wraps(stage)
    def run(ctx: DemoContext) -> None:
        try:
            stage(ctx)
        except SnnlabError as err:
            name = stage.__name__.removeprefix("stage_")
            ctx.skipped.add(name)
            warn(ctx, f"{name} skipped: {err}")

    return run


def _test_loader(ctx: DemoContext) -> Any:
    """The unshuffled loader of the recipe's test split."""
    return _split_loader(ctx, ctx.config.data.test_split)


def _split_loader(ctx: DemoContext, split: str) -> Any:
    """The unshuffled loader of one split of the recipe (``valid`` or ``test``)."""
    from snnlab.train.data import build_dataset, eval_loader
    from snnlab.train.distributed import DistContext

    cfg = ctx.config.data
    return eval_loader(build_dataset(cfg, split, train=False), cfg, DistContext())


def _graph(ctx: DemoContext, required: bool = True) -> nir.NIRGraph | None:
    """The exported graph of the run, exported now when the export stage has not run.

    Raises:
        GraphError: ``required`` and the export was skipped (its warning names why).
    """
    if ctx.graph is None and "export" not in ctx.skipped:
        stage_export(ctx)
    if ctx.graph is None and required:
        raise GraphError("no NIR graph of the model (the export stage was skipped)")
    return ctx.graph


@guarded
def stage_export(ctx: DemoContext) -> None:
    """Export the best checkpoint as ``model.nir`` (as ``snnlab export RUN --to nir`` does)."""
    from snnlab import ir
    from snnlab.train import load_run

    graph = ir.to_nir(load_run(ctx.run_dir).model)
    path = ir.save(graph, ctx.run_dir / "model.nir")
    ctx.graph = graph
    kinds = sorted({type(node).__name__ for node in graph.nodes.values()} - {"Input", "Output"})
    ctx.lines.append(
        f"NIR export: {path} ({len(graph.nodes)} nodes: {', '.join(kinds)}; dt {graph.metadata['dt'] * 1e3:.4g} ms)"
    )


def _dense_float64(ctx: DemoContext, x: torch.Tensor) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Spikes per spiking layer ``(T, B, N)`` and outputs ``(T, B, C)`` of the torch model in float64."""
    from snnlab.train import load_run
    from snnlab.train.recording import record_spikes

    model = load_run(ctx.run_dir).model.double()
    spikes, out = record_spikes(model, x.double())
    return spikes, out.numpy()


def _simulate(graph: nir.NIRGraph, x: np.ndarray, layers: list[str]) -> tuple[SimResult, float]:
    """Run ``graph`` event-driven (numba, float64) on ``x (T, B, ...)``; the result and its wall time."""
    from snnlab.sim import Simulator

    sim = Simulator(graph, backend="numba", dtype=np.float64, record=[n for n in layers if n in graph.nodes])
    start = time.perf_counter()
    result = sim.run(x)
    return result, time.perf_counter() - start


@guarded
def stage_sim_check(ctx: DemoContext) -> None:
    """Simulate ``model.nir`` event-driven on test samples and compare with the dense model in float64."""
    from snnlab.train.evaluation import first_batch

    graph = _graph(ctx)
    x, y = first_batch(_test_loader(ctx), SIM_SAMPLES)  # (T, B, ...), (B,)
    np.savez_compressed(ctx.run_dir / "input.npz", x=x.numpy(), labels=y.numpy())  # `snnlab simulate RUN` replays it
    dense, readout = _dense_float64(ctx, x)
    result, wall = _simulate(graph, x.double().numpy(), list(dense))
    check = {
        "samples": result.batch,
        "steps": result.steps,
        "dtype": "float64",
        "backend": "numba",
        **compare_runs(dense, readout, result),
        "readout_atol": READOUT_ATOL,
        "sim_wall_s": wall,
        "sim_wall_note": "includes numba compilation when its cache is cold",
    }
    check["identical"] = identical(check)
    write_results(study_path(ctx.run_dir, "sim_check"), check)
    ctx.sim_check = check
    _report_check(ctx, check)


def _report_check(ctx: DemoContext, check: dict[str, Any]) -> None:
    """The summary line of the event-driven check, and a warning when it disagrees."""
    agree = check["spike_agreement"]
    spikes = "hidden spikes identical" if agree == 1.0 else "hidden spikes agree"
    ctx.lines.append(
        f"event-driven check: {check['samples']} samples x {check['steps']} steps, {spikes} ({agree:.2%}), "
        f"readout max |diff| {check['readout_max_abs_diff']:.1e}; {check['synaptic_events']:.3g} synaptic events "
        f"vs {check['dense_macs']:.3g} dense MACs ({check['event_fraction']:.1%}) -> {study_path(ctx.run_dir, 'sim_check')}"
    )
    if not check["layers"]:
        warn(ctx, "event-driven check compared no spiking layer (no layer name matches the graph)")
    elif not check["identical"]:
        warn(
            ctx,
            f"event-driven simulation differs from the dense model beyond tolerance: spike agreement "
            f"{agree:.4%}, readout max |diff| {check['readout_max_abs_diff']:.3g} > {READOUT_ATOL:g}",
        )


@guarded
def stage_early_exit(ctx: DemoContext) -> None:
    """Dynamic-confidence early exit: threshold chosen on the validation split, reported on the test
    split (``early_exit.json`` and its two plots)."""
    from snnlab.inference import run_for_eval
    from snnlab.inference.early_exit import summary_line
    from snnlab.train import load_run

    run = load_run(ctx.run_dir)
    valid = ctx.config.data.valid_split
    calib = _split_loader(ctx, valid) if valid is not None else None
    report = run_for_eval(
        run.run_dir,
        run.model,
        _test_loader(ctx),
        argparse.Namespace(hw=EARLY_EXIT_HW),
        calib_loader=calib,
        calib_split=str(valid),
    )
    ctx.early_exit = report
    ctx.lines.append(summary_line(report, study_path(ctx.run_dir, "early_exit")))


@guarded
def stage_report(ctx: DemoContext) -> None:
    """Hardware report (as ``snnlab report RUN --hw ...``): report.html/.md, plots, hw/<chip>.json."""
    from snnlab.analysis.report import build_report
    from snnlab.commands.report import load_rasters
    from snnlab.ir.activity import ActivityProfile

    activity_file = activity_path(ctx.run_dir)
    if not activity_file.is_file():
        raise CheckpointError(f"{activity_file} is missing (the evaluation wrote no activity profile)")
    activity = ActivityProfile.load(activity_file)
    graph = _graph(ctx, required=False)  # without a graph the report leaves fit unchecked
    result = build_report(
        ctx.run_dir, list(HW_CHIPS), graph=graph, activity=activity, spikes=load_rasters(ctx.run_dir / "spikes.npz")
    )
    ctx.report = {"html": result["html"], "md": result["md"], "fits": _descriptors(ctx, graph, result["reports"])}
    _report_lines(ctx, result["reports"], activity)


def _descriptors(ctx: DemoContext, graph: Any, reports: list[Any]) -> list[str]:
    """Write ``hw/<chip>.json`` for every chip the network fits; the chips written."""
    from snnlab.hw import write_descriptor

    written = []
    for name, report in zip(HW_CHIPS, reports):
        if graph is not None and not report.mapping_error:
            write_descriptor(graph, name, descriptor_path(ctx.run_dir, report.hardware))
            written.append(report.hardware)
    return written


def _report_lines(ctx: DemoContext, reports: list[Any], activity: Any) -> None:
    """Summary lines: which chips fit, energy on Loihi 2, and the 45 nm SNN vs ANN comparison."""
    from snnlab.hw import ann_energy_j, estimate

    fits = ", ".join(ctx.report["fits"]) or "none"
    misfits = "; ".join(f"{r.hardware}: {r.mapping_error}" for r in reports if r.mapping_error)
    ctx.lines.append(
        f"hardware: fits {fits} (descriptors in {ctx.run_dir / 'hw'})"
        + (f"; does not fit {misfits}" if misfits else "")
    )
    loihi = next((r for r in reports if r.hardware == "loihi2"), None)
    snn = estimate(activity, "cmos45", method="spikformer").total_j
    ann = ann_energy_j(activity.per_inference())
    ratio = f"SNN {snn / ann:.1f}x the ANN" if snn >= ann else f"SNN {ann / snn:.1f}x less than the ANN"
    energy = f"{loihi.label} {loihi.total_j * 1e6:.3g} uJ; " if loihi is not None else ""
    ctx.lines.append(
        f"energy per inference: {energy}45 nm arithmetic only: SNN {snn * 1e6:.3g} uJ vs ANN "
        f"{ann * 1e6:.3g} uJ for one dense pass of the same weights ({ratio}) over {activity.samples} "
        f"profiled samples x {activity.timesteps} steps"
    )


STAGES: list[Callable[[DemoContext], None]] = [stage_export, stage_sim_check, stage_early_exit, stage_report]
