"""numba-cuda <= 0.30.4 cannot compile beside numpy 2.5 (np.row_stack removed): the cuda backend says so."""

from __future__ import annotations

from importlib import metadata

import numpy as np
import pytest

from snnlab.kernels.registry import NUMPY_CLASH_UPTO, numpy_clash


def test_no_clash_while_numpy_has_row_stack():
    if not hasattr(np, "row_stack"):
        pytest.skip("this numpy has no row_stack")
    assert numpy_clash() == ""


@pytest.mark.parametrize(
    "version,clash", [("0.30.4", True), ("0.28.2", True), ("0.30.5", False), ("0.31.0", False), ("1.0.0rc1", False)]
)
def test_clash_named_with_the_fix(monkeypatch, version, clash):
    monkeypatch.delattr(np, "row_stack", raising=False)
    monkeypatch.setattr(metadata, "version", lambda name: version)
    why = numpy_clash()
    assert bool(why) is clash
    if clash:
        assert f"numba-cuda {version}" in why and "numpy<2.5" in why and "row_stack" in why
    assert NUMPY_CLASH_UPTO == (0, 30, 4)
