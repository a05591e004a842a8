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


def pytest_collection_modifyitems(config, items):
    """Skip `peers` tests when the peer libraries are absent, and `cuda` tests without numba-cuda."""
    import importlib.util

    have_cuda_target = importlib.util.find_spec("numba.cuda") is not None
    for item in items:
        if "cuda" in item.keywords and not have_cuda_target:
            item.add_marker(pytest.mark.skip(reason="numba-cuda not installed"))


os.environ.setdefault("MPLBACKEND", "Agg")
