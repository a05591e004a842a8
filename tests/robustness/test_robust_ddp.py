"""Bad input under ``snnlab train --nproc-per-node N``: one ``error:`` line and exit 2, never
torchrun's report of a failed child (its traceback and the ``ChildFailedError`` block)."""

from __future__ import annotations

from pathlib import Path

import pytest

# (recipe sections, extra argv) -> substrings of the one error line; the recipe is rejected before torchrun starts
PARENT_CASES = {
    "epochs 0": ({"train": {"epochs": 0}}, [], ("train.epochs", ">= 1")),
    "unknown model field": ({"model": {"hiddden": [8]}}, [], ("hiddden", "valid")),
    "nproc 0": ({}, ["--nproc-per-node", "0"], ("--nproc-per-node", ">= 1")),
    "batch not divisible": ({"data": {"batch_size": 15}}, [], ("batch_size=15", "divisible")),
}


@pytest.mark.parametrize("case", list(PARENT_CASES), ids=list(PARENT_CASES))
def test_bad_recipe_under_nproc_is_one_line(case: str, tiny_recipe, cli_error) -> None:
    sections, extra, substrings = PARENT_CASES[case]
    recipe = tiny_recipe(**sections)
    cli_error(["train", recipe, "--nproc-per-node", "2", *extra], *substrings)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_worker_error_under_torchrun_is_one_line(tmp_path: Path, tiny_recipe, cli_error_subprocess) -> None:
    """A missing SHD file is found inside the workers: the user still sees one line, exit 2."""
    recipe = tiny_recipe(data={"name": "shd", "root": str(tmp_path / "no_shd"), "batch_size": 16, "options": {}})
    cli_error_subprocess(["train", recipe, "--nproc-per-node", "2"], "shd_train.h5", "not found", timeout=200)
