"""What ``import snnlab`` sets in the environment before torch is imported (and what it leaves)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

SCRIPT = "import json, os, snnlab; print(json.dumps({k: os.environ.get(k) for k in ('OMP_WAIT_POLICY', 'THP_MEM_ALLOC_ENABLE')}))"


def _settings(**env: str) -> dict:
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "THP_MEM_ALLOC_ENABLE")}
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=base | env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_passive_openmp_waiting_and_no_huge_pages_by_default() -> None:
    # THP_MEM_ALLOC_ENABLE=1 made every large tensor of a training step a fresh huge-page
    # mapping, faulted in again each step: a heavy tail of step times (benchmarks/README.md)
    assert _settings() == {"OMP_WAIT_POLICY": "PASSIVE", "THP_MEM_ALLOC_ENABLE": None}


@pytest.mark.parametrize("env", [{"OMP_WAIT_POLICY": "ACTIVE"}, {"THP_MEM_ALLOC_ENABLE": "1"}])
def test_the_users_values_win(env: dict) -> None:
    assert _settings(**env).items() >= env.items()
