"""Bad input to the spiking diffusion stack: each case is a one-line error from the CLI (exit 2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from snnlab.cli import main
from snnlab.train.checkpoint import FORMAT, atomic_save

RECIPE = {
    "data": {"name": "image_folder", "image_size": 8, "options": {"channels": 1, "image_size": 8}},
    "model": {"in_channels": 1, "ch": 4, "ch_mult": [1, 2], "num_res_blocks": 1, "T": 2},
    "diffusion": {"steps": 20},
    "train": {"steps": 1, "batch_size": 2, "threads": 1},
    "run": {"name": "r"},
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A one-step run on four grey images."""
    from PIL import Image

    tmp = tmp_path_factory.mktemp("robust_diffusion")
    (tmp / "imgs").mkdir()
    for i in range(4):
        Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(tmp / "imgs" / f"{i}.png")
    recipe = yaml.safe_load(yaml.safe_dump(RECIPE))
    recipe["data"]["root"] = str(tmp / "imgs")
    recipe["run"]["out_dir"] = str(tmp / "runs")
    THREADS["before"] = torch.get_num_threads()
    recipe["train"]["threads"] = 2 if THREADS["before"] == 1 else 1  # a count other than the process's
    (tmp / "r.yaml").write_text(yaml.safe_dump(recipe))
    assert main(["diffusion", "train", str(tmp / "r.yaml")]) == 0
    THREADS["after"] = torch.get_num_threads()
    return tmp


THREADS: dict[str, int] = {}


def test_train_threads_hold_for_the_run_only(trained: Path) -> None:
    """``train.threads`` must not outlive the run in the calling process (later work would sum in
    another order than a fresh process and differ in the last bits)."""
    assert THREADS["after"] == THREADS["before"]


def _other_model_run(tmp: Path) -> str:
    run = tmp / "runs" / "classifier"
    atomic_save(
        {"format": FORMAT, "epoch": 1, "model": {"fc.weight": torch.zeros(2, 2)}}, run / "checkpoints" / "last.pt"
    )
    (run / "config.yaml").write_text(yaml.safe_dump({"model": {"name": "mlp_snn"}}))
    return str(run)


def _bad_samples(tmp: Path) -> str:
    np.savez(tmp / "bad.npz", images=np.zeros((2, 8, 8), np.float32))
    return str(tmp / "bad.npz")


CASES = {
    "image size not divisible by 2^(levels-1)": (
        ["train", "{recipe}", "--set", "model.image_size=10", "--set", "model.ch_mult=[1,2,2]"],
        "divisible by 2^(levels-1) = 4",
    ),
    "threshold 0": (["sample", "{run}", "--threshold", "0", "--n", "2"], "--threshold must be > 0"),
    "negative threshold": (["sample", "{run}", "--threshold", "-1", "--n", "2"], "--threshold must be > 0"),
    "more sampling steps than training steps": (
        ["sample", "{run}", "--steps", "21", "--n", "2"],
        "sampling steps must be an int in 1..20",
    ),
    "zero sampling steps": (["sample", "{run}", "--steps", "0", "--n", "2"], "1..20"),
    "checkpoint of another model": (["sample", "{other}", "--n", "2"], "a checkpoint of another model"),
    "not a run folder": (["sample", "{tmp}", "--n", "2"], "not a run folder"),
    "zero images": (["sample", "{run}", "--n", "0"], "--n must be a positive int"),
    "model threshold 0": (["train", "{recipe}", "--set", "model.v_threshold=0", "--force"], "v_threshold must be > 0"),
    "recipe of another model": (["train", "{recipe}", "--set", "model.name=mlp_snn"], "model.name must be sddpm_unet"),
    "unknown recipe key": (["train", "{recipe}", "--set", "train.epochs=3"], "unknown key(s) ['epochs']"),
    "bad betas": (
        ["train", "{recipe}", "--set", "diffusion.beta_1=0.5", "--set", "diffusion.beta_T=0.1"],
        "0 < beta_1 <= beta_T < 1",
    ),
    "diffusion steps mismatch": (
        ["train", "{recipe}", "--set", "model.diffusion_steps=50", "--force"],
        "model.diffusion_steps 50 != diffusion.steps 20",
    ),
    "missing image folder": (
        ["train", "{recipe}", "--set", "data.root=/nonexistent/images", "--force"],
        "is not a folder",
    ),
    "existing run without --resume": (["train", "{recipe}"], "pass --resume"),
    "samples file that is not images": (["eval", "{run}", "--samples", "{bad}"], "'images' must be uint8"),
    "eval tag that is a path": (["eval", "{run}", "--tag", "../x"], "valid: a plain file name"),
    "baseline tag that is a path": (
        ["eval", "{run}", "--baseline", "noise", "--tag", "a/b"],
        "valid: a plain file name",
    ),
    "train --out that is a file": (["train", "{recipe}", "--out", "{recipe}"], "is a file; valid: a folder"),
    "tsm fine-tuning from another model": (
        ["train", "{recipe}", "--set", "train.init_from={other}", "--set", "model.tsm=true", "--force"],
        "another model",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_a_one_line_error(case: str, trained: Path, capsys) -> None:
    args, message = CASES[case]
    subs = {
        "recipe": str(trained / "r.yaml"),
        "run": str(trained / "runs" / "r"),
        "tmp": str(trained),
        "other": _other_model_run(trained),
        "bad": _bad_samples(trained),
    }
    capsys.readouterr()
    code = main(["diffusion"] + [a.format(**subs) for a in args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err and err[-1].startswith("error: ") and message in err[-1], err
    assert "Traceback" not in "\n".join(err)
