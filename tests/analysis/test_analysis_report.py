"""Report: files written, numbers in the table, images render in headless Chromium."""
from __future__ import annotations

import shutil
import subprocess

import nir
import numpy as np
import pytest

from snnlab.ir.activity import ActivityProfile, LayerActivity
from snnlab.analysis.report import build_report


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    n = 16
    nodes = {"input": nir.Input(np.array([8])), "fc1": nir.Affine(rng.normal(size=(n, 8)), np.zeros(n)),
             "lif1": nir.LIF(np.full(n, 0.01), np.ones(n), np.zeros(n), np.ones(n), np.zeros(n)),
             "fc2": nir.Linear(rng.normal(size=(4, n))), "li": nir.LI(np.full(4, .01), np.ones(4), np.zeros(4)),
             "output": nir.Output(np.array([4]))}
    graph = nir.NIRGraph(nodes=nodes, edges=[("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "li"), ("li", "output")],
                         metadata={"dt": 1e-3})
    spikes = {"lif1": (rng.random((20, 2, n)) < 0.2).astype(np.uint8)}
    s = float(spikes["lif1"].sum())
    layers = [LayerActivity("fc1", "synapse", "Linear", macs=20 * 2 * 8 * n, dense_ops=20 * 8 * n),
              LayerActivity("lif1", "neuron", "LIF", n_neurons=n, neuron_updates=20 * 2 * n, spikes=s, output_rate=s / (40 * n)),
              LayerActivity("fc2", "synapse", "Linear", acs=s * 4, dense_ops=20 * n * 4),
              LayerActivity("li", "neuron", "LI", n_neurons=4, neuron_updates=20 * 2 * 4)]
    return graph, ActivityProfile(2, 20, 1e-3, layers), spikes


def test_report_files_and_table(tmp_path):
    graph, activity, spikes = _inputs()
    result = build_report(tmp_path, ["loihi", "truenorth", "speck"], graph=graph, activity=activity, spikes=spikes)
    md = (tmp_path / "report.md").read_text()
    assert "| loihi |" in md and "no: layer 'lif1' is a LIF neuron; speck supports" in md
    names = {p.name for p in result["plots"]}
    assert names == {"energy_breakdown.png", "snn_vs_ann.png", "hw_firing_rates.png", "raster.png", "utilisation.png"}
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


def test_html_images_render_in_chromium(tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    graph, activity, spikes = _inputs()
    build_report(tmp_path, ["loihi"], graph=graph, activity=activity, spikes=spikes)
    page = tmp_path / "report.html"
    script = ("<script>window.onload=function(){var i=document.images,ok=0;for(var k=0;k<i.length;k++)"
              "{if(i[k].complete&&i[k].naturalWidth>0)ok++;}document.title='IMAGES '+ok+'/'+i.length;};</script>")
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text().replace("</body>", script + "</body>"))
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files",
           "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()]
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout
    assert "<title>IMAGES 5/5</title>" in dom
