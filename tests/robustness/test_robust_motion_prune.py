"""``snnlab motion prune`` with a model.pt that is not a motion checkpoint: exit 2, one line."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


def _write(kind: str, path: Path) -> None:
    if kind == "a tensor":
        torch.save(torch.zeros(3), path)
    elif kind == "a bare state dict":
        torch.save({"w": torch.zeros(3)}, path)
    elif kind == "text":
        path.write_text("not a checkpoint")
    elif kind == "pickled object":
        torch.save({"state_dict": {}, "recipe": Path("x")}, path)
    elif kind == "recipe not JSON":
        torch.save({"state_dict": {}, "recipe": "{oops"}, path)
    elif kind == "a folder":
        path.mkdir()


CASES = {
    "a tensor": ("holds a Tensor", "not a motion checkpoint", "snnlab motion train"),
    "a bare state dict": ("not a motion checkpoint", "state_dict"),
    "text": ("not a readable checkpoint", "snnlab motion train"),
    "pickled object": ("not a readable checkpoint", "safe load refuses"),
    "recipe not JSON": ("'recipe' entry", "JSON"),
    "a folder": ("is a folder", "model.pt"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_prune_with_a_bad_model_file(cli_error, tmp_path, case):
    out = tmp_path / "run"
    out.mkdir()
    _write(case, out / "model.pt")
    line = cli_error(["motion", "prune", ROOT / "experiments" / "motion_hd.yaml", "--out", out], *CASES[case])
    assert "model.pt" in line
