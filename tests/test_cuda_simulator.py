"""The one CUDA-simulator harness: every test marked ``cuda`` runs here, in a fresh interpreter.

numba reads ``NUMBA_ENABLE_CUDASIM`` when ``numba.cuda`` is first imported, so the ``cuda``
tests (the ``cuda`` parameter of the ``backend`` fixture, the cuda kernel and simulator cases)
are skipped in the usual process and run here in a subprocess with the variable set. The
outcome is read from pytest's JUnit XML report, not from printed text.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# test folders holding `cuda` tests (the default run skips them outside the simulator)
CUDA_AREAS = ("tests/functional", "tests/kernels", "tests/sim")


def run_under_simulator(paths: list[str], tmp_path: Path, timeout: int = 1200) -> dict[str, int]:
    """Run the ``cuda`` tests of ``paths`` under ``NUMBA_ENABLE_CUDASIM=1``; returns the counts."""
    report = tmp_path / "cuda.xml"
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-m",
        "cuda and not slow",
        f"--junitxml={report}",
        *paths,
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    suites = ET.parse(report).getroot()
    suite = suites if suites.tag == "testsuite" else suites.find("testsuite")
    counts = {key: int(suite.get(key, 0)) for key in ("tests", "failures", "errors", "skipped")}
    counts["returncode"] = proc.returncode
    assert proc.returncode == 0 and counts["failures"] == counts["errors"] == 0, (
        proc.stdout[-4000:] + proc.stderr[-2000:]
    )
    return counts


@pytest.mark.skipif(os.environ.get("NUMBA_ENABLE_CUDASIM") == "1", reason="already inside the simulator")
def test_cuda_tests_pass_under_simulator(tmp_path):
    counts = run_under_simulator(list(CUDA_AREAS), tmp_path)
    assert counts["tests"] - counts["skipped"] >= 40, counts  # the cuda cases did run
