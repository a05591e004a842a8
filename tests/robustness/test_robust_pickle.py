"""No file is ever unpickled: a malicious pickle in any file a command reads runs no code.

The payload, if unpickled, would create a marker folder (``os.mkdir``); each command must refuse
the file in one line and the marker must not exist afterwards.
"""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import pytest
import torch


class _Payload:
    """Unpickling this calls ``os.mkdir(marker)``."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def _torch_file(path: Path, marker: Path) -> None:
    torch.save({"format": 1, "epoch": 1, "model": _Payload(marker)}, path)  # a zip checkpoint holding the payload


def _raw_pickle(path: Path, marker: Path) -> None:
    path.write_bytes(pickle.dumps(_Payload(marker), protocol=2))  # protocol 2: what torch.load expects, no warning


@pytest.fixture
def run_copy(evaluated_run, tmp_path) -> Path:
    dst = tmp_path / "run"
    shutil.copytree(evaluated_run, dst)
    return dst


# command -> (file written into RUN or TMP, writer, argv, substrings of the error)
CASES = {
    "eval, best.pt": ("RUN/checkpoints/best.pt", _torch_file, ["eval", "RUN"], ("best.pt",)),
    "eval, best.pt raw pickle": ("RUN/checkpoints/best.pt", _raw_pickle, ["eval", "RUN"], ("best.pt",)),
    "export, best.pt": ("RUN/checkpoints/best.pt", _torch_file, ["export", "RUN", "--to", "nir"], ("best.pt",)),
    "train --resume, last.pt": ("RUN/checkpoints/last.pt", _torch_file, ["train", "--resume", "RUN"], ("last.pt",)),
    "simulate --input": ("TMP/in.npz", _raw_pickle, ["simulate", "RUN", "--input", "TMP/in.npz"], ("in.npz",)),
    "motion prune, model.pt": (
        "TMP/m/model.pt",
        _torch_file,
        [
            "motion",
            "prune",
            str(Path(__file__).resolve().parents[2] / "experiments" / "motion_hd.yaml"),
            "--out",
            "TMP/m",
        ],
        ("model.pt",),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malicious_pickle_runs_no_code(cli_error, run_copy, tmp_path, case):
    target, write, argv, expected = CASES[case]
    work = tmp_path / "work"
    work.mkdir()
    fill = lambda s: s.replace("RUN", str(run_copy)).replace("TMP", str(work))  # noqa: E731
    path = Path(fill(target))
    path.parent.mkdir(parents=True, exist_ok=True)
    marker = tmp_path / "pwned"
    write(path, marker)
    if case.startswith("train --resume"):
        (run_copy / "checkpoints" / "best.pt").unlink()  # no fallback to a good best.pt
    cli_error([fill(a) for a in argv], *expected)
    assert not marker.exists(), "a pickle was executed"
