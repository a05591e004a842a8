"""Filesystem faults: files where folders go, full disks, read-only folders (exit 2, one line, no run lost)."""

from __future__ import annotations

import errno
import logging
from pathlib import Path

import pytest
import torch

from tests.robustness.test_robust_data import _good_shd, _shd_recipe


def test_out_dir_is_a_file(cli_error, tiny_recipe, tmp_path):
    (tmp_path / "afile").write_text("x")
    recipe = tiny_recipe(run={"out_dir": str(tmp_path / "afile")})
    cli_error(["train", recipe], "run.out_dir", "afile", "is a file", "folder")


def test_run_folder_is_a_file(cli_error, tiny_recipe, tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "bad").write_text("x")
    cli_error(["train", tiny_recipe()], "run.name", "is a file")


@pytest.mark.parametrize(
    "fault",
    [
        OSError(errno.ENOSPC, "No space left on device"),
        RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 64 vs 0"),
    ],
    ids=["ENOSPC", "torch zip writer"],
)
def test_disk_full_during_checkpoint(cli_error, tiny_recipe, tmp_path, monkeypatch, fault):
    def full(*args, **kwargs):
        raise fault

    monkeypatch.setattr(torch, "save", full)
    recipe = tiny_recipe()
    cli_error(["train", recipe], "could not write", "best.pt", "MB free", "--resume")
    ckpt = tmp_path / "runs" / "bad" / "checkpoints"
    assert not list(ckpt.glob(".tmp-*")) and not (tmp_path / "runs" / "bad" / "eval.json").exists()
    assert not (tmp_path / "runs" / "bad" / ".lock").exists()  # the lock is released on the error


def test_read_only_run_folder(cli_error, tiny_recipe, tmp_path, monkeypatch):
    from snnlab.train.config import Config

    def denied(self, path):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(Config, "save", denied)
    cli_error(["train", tiny_recipe()], "permission denied", "config.yaml", "writable")


def test_read_only_filesystem(cli_error, tiny_recipe, monkeypatch):
    from snnlab.train import runlock

    def read_only(run_dir, log=print):
        raise OSError(errno.EROFS, "Read-only file system", str(run_dir))

    monkeypatch.setattr(runlock, "acquire", read_only)
    cli_error(["train", tiny_recipe()], "read-only file system", "writable folder")


def _read_only_under(root: Path, monkeypatch) -> None:
    """Frame-cache writes under ``root`` fail as on a read-only mount."""
    from snnlab.data import cache

    real = cache.write_frames

    def write(path, *args, **kwargs):
        if root in Path(path).parents:
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(cache, "write_frames", write)


def test_read_only_data_root_caches_elsewhere(tmp_path, monkeypatch, caplog):
    from snnlab.data import create_dataset

    root = tmp_path / "data"
    root.mkdir()
    _good_shd(root / "shd_train.h5")
    _read_only_under(root, monkeypatch)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    with caplog.at_level(logging.WARNING):
        ds = create_dataset("shd", root, "train")
    assert len(ds) == 8 and "not writable" in caplog.text
    assert list((tmp_path / "xdg" / "snnlab").glob("shd_train_*.h5"))
    assert len(create_dataset("shd", root, "train")) == 8  # found there again, nothing rebuilt


def test_read_only_cache_dir_chosen_by_the_user(cli_error, tmp_path, monkeypatch):
    root = tmp_path / "data"
    root.mkdir()
    _good_shd(root / "shd_train.h5")
    _good_shd(root / "shd_test.h5")
    _read_only_under(root, monkeypatch)
    recipe = _shd_recipe(root, options={"dt": 0.05, "cache_dir": str(root / "mycache")})
    cli_error(["train", recipe], "cannot write the frame cache", "read-only", "cache_dir")
