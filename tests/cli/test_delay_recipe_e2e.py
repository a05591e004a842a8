"""The delay recipe end to end: train (shrunk), eval, export to NIR with BatchNorm folded into the
delay groups, simulate event-driven and report on chips, all from the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.data.conftest import write_shd_h5

ROOT = Path(__file__).resolve().parents[2]


def _shd(root: Path) -> None:
    rng = np.random.default_rng(3)
    for split, n in (("train", 16), ("test", 8)):
        times = [np.sort(rng.uniform(0, 0.3, 30)).astype(np.float16) for _ in range(n)]
        units = [rng.integers(0, 700, 30).astype(np.uint16) for _ in range(n)]
        write_shd_h5(
            root / f"shd_{split}.h5",
            times,
            units,
            np.arange(n) % 20,
            [i % 4 for i in range(n)],
            [b"k%d" % i for i in range(20)],
        )


def test_shd_delays_export_simulate_report(tmp_path, capsys):
    from snnlab.cli import main

    _shd(tmp_path)
    sets = [
        f"data.root={tmp_path}",
        "data.batch_size=8",
        "model.hidden=[12,10]",
        "model.max_delay=5",
        "model.backend=torch",
        "model.delay_backend=torch",
        "train.epochs=1",
        f"run.out_dir={tmp_path / 'runs'}",
        "run.progress=false",
    ]
    argv = ["train", str(ROOT / "experiments" / "shd_delays.yaml")]
    for item in sets:
        argv += ["--set", item]
    assert main(argv) == 0
    run = tmp_path / "runs" / "shd_delays"
    assert main(["eval", str(run)]) == 0
    assert main(["export", str(run), "--to", "nir"]) == 0
    import nir

    graph = nir.read(run / "model.nir")
    assert not any("norm" in name for name in graph.nodes)  # folded, no node of its own
    assert any(name.endswith(".d0") and isinstance(node, nir.Affine) for name, node in graph.nodes.items())
    assert main(["simulate", str(run), "--steps", "20"]) == 0
    assert (run / "sim" / "spikes.npz").is_file()
    assert main(["report", str(run), "--hw", "loihi2,cmos45"]) == 0
    assert (run / "report.html").is_file() and (run / "report.md").is_file()
    out = capsys.readouterr().out
    assert "loihi2" in out and "J" in out


def test_folded_graph_equals_the_model():
    """The exported graph (BatchNorm folded into the delay groups, bias on d0) computes what the model does."""
    import torch

    from snnlab import ir
    from snnlab.models import create_model

    torch.manual_seed(0)
    for bias in (False, True):
        model = create_model(
            "delay_snn",
            in_features=20,
            num_classes=5,
            hidden=[16, 12],
            max_delay=7,
            batch_norm=True,
            dropout=0.0,
            bias=bias,
            backend="torch",
            delay_backend="torch",
        )
        for mod in model.modules():
            if isinstance(mod, torch.nn.BatchNorm1d):  # non-trivial statistics
                mod.running_mean.uniform_(-0.5, 0.5)
                mod.running_var.uniform_(0.5, 2.0)
                mod.weight.data.uniform_(0.5, 1.5)
                mod.bias.data.uniform_(-0.3, 0.3)
        model.eval()
        x = (torch.rand(30, 3, 20) < 0.5).float() * 3  # (T, B, F)
        back = ir.from_nir(ir.to_nir(model, dt=0.01)).eval()
        with torch.no_grad():
            ref, out = model(x), back(x)
        assert ref.shape == out.shape and ref.abs().mean() > 0.05
        assert torch.allclose(ref, out, atol=1e-5)
