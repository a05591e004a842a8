"""Report: files written, numbers in the table, images render in headless Chromium."""

from __future__ import annotations

import shutil
import subprocess

import nir
import numpy as np
import pytest

from snnlab.analysis.report import build_report
from snnlab.ir.activity import ActivityProfile, LayerActivity


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    n = 16
    nodes = {
        "input": nir.Input(np.array([8])),
        "fc1": nir.Affine(rng.normal(size=(n, 8)), np.zeros(n)),
        "lif1": nir.LIF(np.full(n, 0.01), np.ones(n), np.zeros(n), np.ones(n), np.zeros(n)),
        "fc2": nir.Linear(rng.normal(size=(4, n))),
        "li": nir.LI(np.full(4, 0.01), np.ones(4), np.zeros(4)),
        "output": nir.Output(np.array([4])),
    }
    graph = nir.NIRGraph(
        nodes=nodes,
        edges=[("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "li"), ("li", "output")],
        metadata={"dt": 1e-3},
    )
    spikes = {"lif1": (rng.random((20, 2, n)) < 0.2).astype(np.uint8)}
    s = float(spikes["lif1"].sum())
    layers = [
        LayerActivity("fc1", "synapse", "Linear", macs=20 * 2 * 8 * n, dense_ops=20 * 8 * n),
        LayerActivity(
            "lif1", "neuron", "LIF", n_neurons=n, neuron_updates=20 * 2 * n, spikes=s, output_rate=s / (40 * n)
        ),
        LayerActivity("fc2", "synapse", "Linear", acs=s * 4, dense_ops=20 * n * 4),
        LayerActivity("li", "neuron", "LI", n_neurons=4, neuron_updates=20 * 2 * 4),
    ]
    return graph, ActivityProfile(2, 20, 1e-3, layers), spikes


def test_report_files_and_table(tmp_path):
    graph, activity, spikes = _inputs()
    result = build_report(tmp_path, ["loihi", "truenorth", "speck"], graph=graph, activity=activity, spikes=spikes)
    md = (tmp_path / "report.md").read_text()
    assert "| loihi |" in md and "no: layer 'lif1' is a LIF neuron; speck supports" in md
    names = {p.name for p in result["plots"]}
    assert names == {
        "energy_breakdown.png",
        "snn_vs_ann.png",
        "hw_firing_rates.png",
        "spike_raster.png",
        "utilisation.png",
    }
    assert all((tmp_path / "plots" / n).stat().st_size > 1000 for n in names)
    loihi = result["reports"][0]
    assert loihi.fits and loihi.total_j > 0 and f"{loihi.total_j / 1e-9:.3g} nJ" in md


def test_report_needs_activity(tmp_path):
    with pytest.raises(ValueError, match="activity"):
        build_report(tmp_path, ["loihi"])


def test_cli_report(tmp_path, capsys):
    from snnlab.cli import main

    graph, activity, spikes = _inputs()
    nir.write(tmp_path / "model.nir", graph)
    activity.save(tmp_path / "activity.json")
    np.savez(tmp_path / "spikes.npz", **spikes)
    assert main(["report", str(tmp_path), "--hw", "loihi2,odin"]) == 0
    assert (tmp_path / "report.html").is_file() and (tmp_path / "hw" / "loihi2.json").is_file()
    assert main(["report", str(tmp_path / "nope"), "--hw", "loihi"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_report_header_units_and_convention(tmp_path):
    import json

    graph, activity, spikes = _inputs()
    (tmp_path / "eval.json").write_text(
        json.dumps(
            {"accuracy": 0.9333, "samples": 360, "split": "test", "dataset": "digits", "model": "mlp_snn", "epoch": 8}
        )
    )
    build_report(tmp_path, ["loihi2", "cmos45"], graph=graph, activity=activity, spikes=spikes)
    md = (tmp_path / "report.md").read_text()
    head = md.split("| chip |")[0]
    assert f"# Hardware report: {tmp_path.name}" in head and "dataset: digits" in head
    assert "accuracy: 93.33 % on 360 'test' samples" in head and "date: 20" in head
    assert "Loihi 1" in md and "loihi2 (Loihi 1 per-op energies)" in md  # whose energies loihi2 uses
    assert "one dense forward pass of the same weights" in md  # the ANN convention is stated
    rows = [line for line in md.splitlines() if line.startswith("| ") and line.count("|") == 5]
    metric_rows = rows[1:]  # after the activity table's header
    assert metric_rows and all(cells.split("|")[3].strip() and cells.split("|")[4].strip() for cells in metric_rows)
    assert "| ANN one-pass MACs | 192 | operations |" in md  # fc1 8x16 + fc2 16x4, once (not x 20 steps)


def test_existing_training_raster_is_reused_not_duplicated(tmp_path):
    graph, activity, spikes = _inputs()
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "spike_raster.png").write_bytes(b"not redrawn")
    result = build_report(tmp_path, ["loihi"], graph=graph, activity=activity, spikes=spikes)
    assert (tmp_path / "plots" / "spike_raster.png").read_bytes() == b"not redrawn"
    assert not (tmp_path / "plots" / "raster.png").exists()
    assert sum(p.name == "spike_raster.png" for p in result["plots"]) == 1


def _chromium() -> str:
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        pytest.skip("chromium not installed (apt-get install -y chromium; .ci/run installs it)")
    return browser


def test_html_stands_alone_and_renders_in_chromium(tmp_path):
    """The HTML embeds its figures: moved away from plots/ it still shows every image, and a
    headless Chromium screenshot of it is not blank."""
    browser = _chromium()
    graph, activity, spikes = _inputs()
    build_report(tmp_path / "run", ["loihi", "speck"], graph=graph, activity=activity, spikes=spikes)
    alone = tmp_path / "elsewhere"
    alone.mkdir()
    page = (tmp_path / "run" / "report.html").read_text()
    assert 'src="plots/' not in page and page.count('src="data:image/png;base64,') == 5
    script = (
        "<script>window.onload=function(){var i=document.images,ok=0;for(var k=0;k<i.length;k++)"
        "{if(i[k].complete&&i[k].naturalWidth>0)ok++;}document.title='IMAGES '+ok+'/'+i.length;};</script>"
    )
    (alone / "probe.html").write_text(page.replace("</body>", script + "</body>"))
    (alone / "report.html").write_text(page)
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000"]
    dom = subprocess.run(
        flags + ["--dump-dom", (alone / "probe.html").as_uri()], capture_output=True, text=True, timeout=120
    ).stdout
    assert "<title>IMAGES 5/5</title>" in dom
    shot = alone / "shot.png"
    subprocess.run(
        flags + [f"--screenshot={shot}", "--window-size=1000,2400", (alone / "report.html").as_uri()],
        capture_output=True,
        timeout=120,
        cwd=alone,
    )
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)[..., :3]  # (H, W, 3) in [0, 1]
    assert pixels.std() > 0.05  # not a blank page
    dark = (pixels.mean(axis=2) < 0.5).mean()
    assert 0.005 < dark < 0.6  # text and figures drawn, not an empty or black screen


def test_plot_labels_are_readable():
    from types import SimpleNamespace

    from snnlab.analysis import plots

    labels = plots.layer_labels(
        ["hidden.0.synapse.module", "hidden.0.neuron", "fc_out.module"],
        {"hidden.0.synapse.module": "synapse", "hidden.0.neuron": "neuron", "fc_out.module": "synapse"},
    )
    assert list(labels.values()) == ["synapses 1", "neurons 1", "synapses 2"]  # no internal module names
    assert plots.energy_label(7.44e-6) == "7.44 µJ" and plots.energy_label(5.74e-3) == "5.74 mJ"
    misfit = SimpleNamespace(hardware="speck", fits=False, label="speck")
    assert plots._chip_label(misfit) == "speck (does not fit)"
    loihi2 = SimpleNamespace(hardware="loihi2", fits=True, label="loihi2 (Loihi 1 per-op energies)")
    assert plots._chip_label(loihi2) == "loihi2 (Loihi 1 per-op energies)"
