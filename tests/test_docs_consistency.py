"""Docs that once contradicted the code (issue #18's list) keep agreeing with it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _text(rel: str) -> str:
    return (ROOT / rel).read_text(encoding="utf-8")


def test_every_registered_dataset_is_in_datasets_readme_and_none_called_unregistered():
    from snnlab.data.registry import DATASETS

    readme = _text("datasets/README.md")
    missing = [name for name in DATASETS if f'"{name}"' not in readme and f"`{name}`" not in readme]
    assert not missing, f"datasets/README.md does not name {missing}"
    assert not re.search(r"not (yet )?registered", readme, re.I)


def test_benchmarks_readme_installs_peers_without_pulling_cuda_torch():
    """Installing the peers with ``pip install -e '.[peers]'`` pulls a CUDA torch: the README must not tell it."""
    readme = _text("benchmarks/README.md")
    blocks = re.findall(r"```.*?```", readme, re.S)  # commands a reader copies
    assert not any(".[peers]" in block for block in blocks)
    assert "make peers" in readme


def test_tensorboard_logging_is_documented():
    from snnlab.train.config import RunConfig

    assert hasattr(RunConfig(), "tensorboard")
    assert "run.tensorboard=true" in _text("README.md")


def test_event_count_difference_is_documented():
    """docs/simulation.md explains sim_check vs simulate counts and names the cost model's source."""
    doc = _text("docs/simulation.md")
    assert "identity" in doc and "activity_profile" in doc and "The cost model uses the profile" in doc


def test_delayed_linear_lengthening_is_documented_as_it_is():
    """README: a DelayedLinear output is (max_delay - 1) // 2 steps longer; the layer does that."""
    import torch

    from snnlab.nn import DelayedLinear

    assert "right_pad = (max_delay - 1) // 2" in _text("README.md")
    layer = DelayedLinear(3, 2, max_delay=25)
    assert layer(torch.zeros(10, 1, 3)).shape[0] == 10 + (25 - 1) // 2
