"""Bad input to the simulator's direct Network API: one line naming the field and what is valid."""

from __future__ import annotations

import pytest

from snnlab.errors import ConfigError
from snnlab.sim import Network

CASES = {
    "e_rev shorter than tau_syn": (
        dict(tau_syn=(5e-3, 10e-3), e_rev=(0.0,)),
        "e_rev needs one entry per tau_syn (2), got 1",
    ),
    "e_rev without synapses": (dict(e_rev=(0.0,)), "e_rev needs one entry per tau_syn (0), got 1"),
    "time constant below dt": (dict(tau_syn=(1e-5,)), "a time constant is below dt"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_lif_population_is_one_line(case):
    kwargs, text = CASES[case]
    with pytest.raises(ConfigError) as info:
        Network(1e-4).lif("p", 4, **kwargs)
    assert text in str(info.value) and "\n" not in str(info.value)


def test_sim_cuda_engine_names_the_numpy_clash(monkeypatch):
    """numba-cuda <= 0.30.4 beside numpy 2.5 on a GPU: one error naming the clash and the fix, not a
    traceback from the first kernel compile (seen on an H200, 2026-12-04)."""
    from importlib import metadata

    import numpy as np

    from snnlab.errors import BackendError
    from snnlab.sim import cuda_kernels, vogels_abbott_cuba

    monkeypatch.setattr(cuda_kernels.cuda, "is_available", lambda: True)  # a GPU, as far as numba can tell
    monkeypatch.setattr(cuda_kernels, "SIMULATED", False)
    monkeypatch.delattr(np, "row_stack", raising=False)
    monkeypatch.setattr(metadata, "version", lambda name: "0.30.4")
    with pytest.raises(
        BackendError, match=r"backend 'cuda' cannot run here: numba-cuda 0.30.4 .*numpy<2.5.*use 'numba'"
    ):
        vogels_abbott_cuba().simulator(backend="cuda")
