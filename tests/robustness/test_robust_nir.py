"""Bad NIR graphs: every reader (simulate, export to a chip, report, from_nir) gives the same one line."""

from __future__ import annotations

from pathlib import Path

import nir
import numpy as np
import pytest


def _graph(**edit) -> nir.NIRGraph:
    """Input(4) -> Affine(3x4) -> LIF(3) -> Output, dt 1 ms; ``edit`` overrides node fields."""
    w = np.full((3, 4), 0.5)
    fields = {
        "weight": w,
        "bias": np.zeros(3),
        "tau": np.full(3, 2e-3),
        "r": np.ones(3),
        "v_leak": np.zeros(3),
        "v_threshold": np.ones(3),
        "v_reset": np.zeros(3),
        "dt": 1e-3,
        "delay": None,
    }
    fields.update(edit)
    nodes = {
        "input": nir.Input(input_type=np.array([4])),
        "fc": nir.Affine(weight=fields["weight"], bias=fields["bias"]),
        "lif": nir.LIF(
            tau=fields["tau"],
            r=fields["r"],
            v_leak=fields["v_leak"],
            v_threshold=fields["v_threshold"],
            v_reset=fields["v_reset"],
        ),
        "output": nir.Output(output_type=np.array([3])),
    }
    edges = [("input", "fc"), ("fc", "lif"), ("lif", "output")]
    if fields["delay"] is not None:
        nodes["d"] = nir.Delay(delay=np.asarray(fields["delay"], np.float64))
        edges = [("input", "d"), ("d", "fc"), ("fc", "lif"), ("lif", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": fields["dt"]})


def _nan_at(shape, index=0):
    a = np.ones(shape)
    a.reshape(-1)[index] = np.nan
    return a


# graph edits -> substrings of the one error line
GRAPH_CASES = {
    "dt a string": ({"dt": "fast"}, "dt", "seconds"),
    "dt zero": ({"dt": 0.0}, "dt", "positive"),
    "dt NaN": ({"dt": float("nan")}, "dt", "positive"),
    "bias of the wrong length": ({"bias": np.zeros(5)}, "'fc'", "bias has 5", "one bias per output (3)"),
    "NaN weight": ({"weight": _nan_at((3, 4), 5)}, "'fc'", "weight", "non-finite"),
    "Inf bias": ({"bias": np.array([0.0, np.inf, 0.0])}, "'fc'", "bias", "non-finite"),
    "NaN tau": ({"tau": _nan_at(3)}, "'lif'", "tau", "non-finite"),
    "tau zero": ({"tau": np.zeros(3)}, "'lif'", "tau", "> 0"),
    "NaN threshold": ({"v_threshold": _nan_at(3, 2)}, "'lif'", "v_threshold", "non-finite"),
    "NaN delay": ({"delay": _nan_at(4)}, "'d'", "delay", "non-finite"),
    "huge delay": ({"delay": np.full(4, 1e6)}, "'d'", "exceeds", "100,000 steps"),
    "negative delay": ({"delay": np.full(4, -1e-3)}, "'d'", "delay", ">= 0"),
    "fractional delay": ({"delay": np.full(4, 1.5e-3)}, "'d'", "not an integer number of steps"),
}


def _write(tmp: Path, case: str) -> Path:
    path = tmp / "bad.nir"
    nir.write(path, _graph(**GRAPH_CASES[case][0]))
    return path


@pytest.mark.parametrize("case", sorted(GRAPH_CASES))
def test_bad_graph_simulate(cli_error, tmp_path, case):
    _, *expected = GRAPH_CASES[case]
    cli_error(["simulate", _write(tmp_path, case), "--steps", "4", "--out", tmp_path / "sim"], *expected)
    assert not (tmp_path / "sim").exists()


@pytest.mark.parametrize("case", sorted(GRAPH_CASES))
def test_bad_graph_export_to_chip(cli_error, tmp_path, case):
    _, *expected = GRAPH_CASES[case]
    cli_error(["export", _write(tmp_path, case), "--to", "loihi2", "--out", tmp_path / "chip.json"], *expected)
    assert not (tmp_path / "chip.json").exists()


@pytest.mark.parametrize("case", ["bias of the wrong length", "NaN tau", "huge delay"])
def test_bad_graph_from_nir(tmp_path, case):
    from snnlab.errors import GraphError
    from snnlab.ir import from_nir

    _, *expected = GRAPH_CASES[case]
    with pytest.raises(GraphError) as err:
        from_nir(_graph(**GRAPH_CASES[case][0]))
    assert all(e.lower() in str(err.value).lower() for e in expected) and "\n" not in str(err.value)


def test_good_graph_passes(tmp_path, capsys):
    """The same builder without a fault simulates: the cases above fail for their fault only."""
    from snnlab.cli import main

    path = tmp_path / "good.nir"
    nir.write(path, _graph(delay=np.full(4, 2e-3)))
    assert main(["simulate", str(path), "--steps", "4", "--out", str(tmp_path / "sim")]) == 0
    assert (tmp_path / "sim" / "spikes.npz").is_file()


BAD_FILES = {
    "text": b"not a nir file",
    "empty": b"",
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_unreadable_nir_file(cli_error, tmp_path, case):
    path = tmp_path / "bad.nir"
    path.write_bytes(BAD_FILES[case])
    cli_error(["simulate", path, "--steps", "4"], "bad.nir", "not a readable NIR graph")
