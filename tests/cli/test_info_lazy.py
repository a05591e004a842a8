"""``snnlab info`` answers without importing the kernel backends or torch; ``--probe`` does import them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "numba", "numba_cuda", "snnlab.kernels.numba", "snnlab.kernels.cuda", "snnlab.kernels.torch_ref")

_SCRIPT = """
import contextlib, io, json, sys
from snnlab.cli import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    try:
        code = main(sys.argv[1:])
    except SystemExit as exit_:  # --help
        code = exit_.code
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "numba", "numba_cuda")
               or m.startswith(("snnlab.kernels.numba", "snnlab.kernels.cuda", "snnlab.kernels.torch_ref")))
print(json.dumps({"code": code, "info": out.getvalue(), "heavy": heavy}))
"""


def _run(*argv: str, **env: str) -> dict:
    environ = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT, *argv], capture_output=True, text=True, env=environ, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


def test_info_imports_no_kernel_backend_nor_torch():
    result = _run("info", "--json")
    assert result["code"] == 0
    assert result["heavy"] == [], f"snnlab info imported {result['heavy']}"
    info = json.loads(result["info"])
    assert info["probed"] is False and info["backends"]["torch"]["available"] is True
    assert info["backends"]["numba"]["available"] is True  # numba is a core dependency


def test_help_imports_no_kernel_backend_nor_torch():
    result = _run("--help")
    assert result["heavy"] == [], f"snnlab --help imported {result['heavy']}"


@pytest.mark.parametrize("backend", ["torch", "numba", "cuda"], ids=lambda b: f"{b}-backend")  # no bare "cuda" id
def test_quick_answer_agrees_with_the_probe(backend):
    """What info says without importing equals what importing the backend finds (here, CPU only)."""
    from snnlab.kernels.probe import quick_why_not
    from snnlab.kernels.registry import availability

    quick_ok = not quick_why_not(backend)
    assert availability(backend, probe=True)[0] == quick_ok


def test_quick_cuda_reasons(monkeypatch):
    from snnlab.kernels import probe

    monkeypatch.setenv("NUMBA_ENABLE_CUDASIM", "1")
    assert probe.quick_why_not("cuda") == ""  # the simulator needs no GPU
    monkeypatch.delenv("NUMBA_ENABLE_CUDASIM")
    monkeypatch.setattr(probe, "cuda_devices", lambda: None)
    assert "no CUDA driver" in probe.quick_why_not("cuda")
    monkeypatch.setattr(probe, "cuda_devices", lambda: [])
    assert "no CUDA GPU" in probe.quick_why_not("cuda")
    monkeypatch.setattr(probe, "cuda_devices", lambda: ["NVIDIA H200"])
    assert probe.quick_why_not("cuda") == ""
    monkeypatch.setattr(probe, "installed", lambda module: module != "numba_cuda")
    assert "numba-cuda is not installed" in probe.quick_why_not("cuda")


def test_info_probe_imports_and_reports_torch(capsys):
    from snnlab.cli import main

    assert main(["info", "--probe", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["probed"] is True and info["devices"]["torch_threads"] >= 1
    assert "torch_cuda_build" in info["devices"]
