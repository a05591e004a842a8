"""Shared fixtures. Area-specific fixture writers live in tests/<area>/conftest.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real files from elsewhere (../shared/data); skip when a clone lacks it."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside this clone (real sample files are absent)")
    return SHARED_DATA


SIMULATED = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"


def _backend_params() -> list:
    """Every registered kernel backend; ``cuda`` runs in the CUDA-simulator run (tests/test_cuda_simulator.py)."""
    from snnlab.kernels import BACKENDS

    return [pytest.param(name, id=name, marks=(pytest.mark.cuda,) if name == "cuda" else ()) for name in BACKENDS]


def backend_params(slow: tuple[str, ...] = ()) -> list:
    """``_backend_params`` with the backends in ``slow`` moved to the slow target (for a test whose
    run on them costs compile time that the default suite cannot afford and that another default
    test already covers)."""
    out = []
    for p in _backend_params():
        marks = (*p.marks, pytest.mark.slow) if p.values[0] in slow else p.marks
        out.append(pytest.param(*p.values, id=p.id, marks=marks))
    return out


@pytest.fixture(params=_backend_params())
def backend(request) -> str:
    """The same test on every registered backend (brian2-style); tensors stay on the CPU."""
    return request.param


@pytest.fixture(params=[p for p in _backend_params() if p.values[0] != "cuda"])
def cpu_backend(request) -> str:
    """Every registered backend that runs CPU tensors outside the CUDA simulator (torch, numba)."""
    return request.param


def pytest_collection_modifyitems(config, items):
    """Skip `cuda` tests outside the CUDA simulator (and without numba-cuda) unless a real GPU is
    here; they run in tests/test_cuda_simulator.py's subprocess, with ``make test-cuda`` (simulator)
    or, on a machine with a GPU, with ``make test-gpu`` (tests/cuda_device.py)."""
    import importlib.util

    have_cuda_target = importlib.util.find_spec("numba.cuda") is not None
    on_gpu = None
    for item in items:
        if "cuda" not in item.keywords:
            continue
        if not have_cuda_target:
            item.add_marker(pytest.mark.skip(reason="numba-cuda not installed"))
            continue
        if on_gpu is None:
            from tests.cuda_device import real_gpu

            on_gpu = real_gpu()
        if not SIMULATED and not on_gpu:
            item.add_marker(pytest.mark.skip(reason="runs under NUMBA_ENABLE_CUDASIM=1 (tests/test_cuda_simulator.py)"))


os.environ.setdefault("MPLBACKEND", "Agg")


_SESSION_THREADS: dict[str, int] = {}


def pytest_sessionstart(session):
    """Under ``pytest -n N`` (pytest-xdist), fill numba's cache with the simulator engine before the
    workers start (tests/warm_jit.py, one process per dtype, in parallel), so that workers reaching
    it at the same time load it instead of each compiling it. A serial run skips this."""
    config = session.config
    if hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None):
        return
    import subprocess
    import sys

    script = ROOT / "tests" / "warm_jit.py"
    procs = [subprocess.Popen([sys.executable, str(script), dtype], cwd=ROOT) for dtype in ("float32", "float64")]
    if any(p.wait() for p in procs):
        raise pytest.UsageError("tests/warm_jit.py failed: the simulator engine does not compile (see above)")


def pytest_configure(config):
    """Record torch's thread count before any test or fixture can change it."""
    import torch

    _SESSION_THREADS["torch"] = torch.get_num_threads()


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    """Give every test the thread counts the session started with (torch, and numba once loaded).

    Compared with the session's first values, not with the values at this test's start: a module- or
    session-scoped fixture that changed them runs before this fixture and would otherwise pass
    unnoticed. Later tests compare bit for bit against runs in fresh processes (the SIGKILL-resume
    checks), which start with the default counts.
    """
    import sys

    import torch

    yield
    if torch.get_num_threads() != _SESSION_THREADS["torch"]:
        torch.set_num_threads(_SESSION_THREADS["torch"])
    numba = sys.modules.get("numba")
    if numba is not None and hasattr(numba, "get_num_threads"):
        default = int(numba.config.NUMBA_NUM_THREADS)
        if numba.get_num_threads() != default:
            numba.set_num_threads(default)
