"""The figure fixes a new user asked for stay fixed: read from the drawn matplotlib objects.

snn_vs_ann: tick labels do not overlap; utilisation: one bar per chip, not a line over core
indices; Pareto: the accuracy axis zooms on 90-97 % instead of spanning 0-100 %; motion curves:
the legend sits below the axes, over no data.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest


@pytest.fixture
def drawn(monkeypatch):
    """Figures passed to ``save_figure`` (in every module that imported it), drawn, before closing."""
    import snnlab.analysis.plots as plots
    import snnlab.apps.motion.pruning as pruning
    import snnlab.inference.plots as inference_plots

    figures = []
    original = plots.save_figure

    def keep(fig, path, dpi=120):
        fig.tight_layout()
        fig.canvas.draw()
        figures.append((fig, [ax for ax in fig.axes], fig.canvas.get_renderer()))
        return original(fig, path, dpi)

    for module in (plots, pruning, inference_plots):
        monkeypatch.setattr(module, "save_figure", keep)
    return figures


def _overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_snn_vs_ann_tick_labels_do_not_overlap(drawn, tmp_path: Path):
    from snnlab.analysis import plots

    chips = [
        SimpleNamespace(hardware=h, total_j=j, fits=f, label=h)
        for h, j, f in (
            ("loihi2", 7.4e-6, True),
            ("speck", 2e-6, False),
            ("truenorth", 3e-6, True),
            ("cmos45", 4.4e-6, True),
            ("gpu", 1e-3, True),
        )
    ]
    plots.snn_vs_ann(0.61e-6, 1.3e-6, chips, tmp_path / "snn_vs_ann.png")
    fig, (ax,), renderer = drawn[-1]
    boxes = [t.get_window_extent(renderer) for t in ax.get_yticklabels() if t.get_text()]
    assert len(boxes) == 7
    assert not any(_overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
    legend = ax.get_legend().get_window_extent(renderer)
    assert legend.y1 <= ax.get_window_extent(renderer).y0 + 1  # below the bars


def test_utilisation_is_one_bar_per_chip(drawn, tmp_path: Path):
    from snnlab.analysis import plots

    cores = lambda *u: SimpleNamespace(cores=[SimpleNamespace(utilisation=x) for x in u])  # noqa: E731
    plots.utilisation({"loihi2": cores(0.2, 0.9, 0.5), "speck": cores(1.0)}, tmp_path / "util.png")
    fig, (ax,), _ = drawn[-1]
    assert len(ax.patches) == 2 and not [ln for ln in ax.lines if len(ln.get_xdata()) > 2]


def test_pareto_axis_zooms_on_the_operating_points(drawn, tmp_path: Path):
    from snnlab.inference.calibrate import Calibration, SweepPoint
    from snnlab.inference.plots import plot_pareto

    points = [SweepPoint(t, 16 * t, 0.90 + 0.07 * t) for t in (0.2, 0.4, 0.6, 0.8, 1.0)]
    points.append(SweepPoint(0.05, 1.0, 0.12))  # a useless threshold far below
    cal = Calibration(points, points[:5], points[2], 0.97, 16, {})
    plot_pareto(cal, tmp_path / "pareto.png")
    fig, axes, _ = drawn[-1]
    low, high = axes[0].get_ylim()
    assert low > 80 and high < 100.5  # 90-97 % readable, not squashed into 0-100


def test_motion_legend_covers_no_data(drawn, tmp_path: Path):
    from snnlab.apps.motion.pruning import plot_curves

    rows = [{"n_synapses": n, "accuracy": a} for n, a in ((100, 0.5), (1000, 0.8), (10000, 0.95))]
    plot_curves(rows, rows, 0.25, tmp_path / "motion.png")
    fig, (ax,), renderer = drawn[-1]
    legend = ax.get_legend().get_window_extent(renderer)
    assert legend.y1 <= ax.get_window_extent(renderer).y0 + 1
