"""Checks and messages of a run's start: what is trained on what, and whether a resume fits the schedule."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from snnlab.errors import ConfigError
from snnlab.fmt import plural
from snnlab.train.config import Config

# schedules whose shape depends on the total length (their learning rate ends at the end of train.epochs)
LENGTH_BOUND = ("cosine", "onecycle", "warmup_cosine")


def describe_setup(cfg: Config, data: Any, model: nn.Module, device: torch.device) -> str:
    """``data: digits train 1,293 / valid 144 / test 360 samples; model mlp_snn 134,410 parameters; ...``."""
    sizes = [f"{cfg.data.train_split} {len(data.train_set):,}"]
    if data.valid_set is not None:
        sizes.append(f"{cfg.data.valid_split} {len(data.valid_set):,}")
    sizes.append(f"{cfg.data.test_split} {len(data.test_set):,}")
    params = sum(p.numel() for p in model.parameters())
    backend = _kernel_backends(model, device)
    return (
        f"data: {cfg.data.name} {' / '.join(sizes)} samples; model {cfg.model['name']}: "
        f"{plural(params, 'parameter')}; backend {backend}; device {device}; {plural(cfg.train.epochs, 'epoch')}"
    )


def _kernel_backends(model: nn.Module, device: torch.device) -> str:
    """The kernel backends the model's spiking modules ask for (``auto`` resolved for ``device``)."""
    names = sorted({m.backend for m in model.modules() if isinstance(getattr(m, "backend", None), str)})
    if not names:
        return "none (no spiking kernels)"
    if "auto" in names:
        from snnlab.kernels.registry import availability

        preferred = "cuda" if device.type == "cuda" else "numba"
        resolved = preferred if availability(preferred)[0] else "torch"
        names = [f"auto -> {resolved}" if n == "auto" else n for n in names]
    return ", ".join(names)


def check_schedule_length(state: dict[str, Any], cfg: Config, path: Path, log: Callable[[str], None]) -> None:
    """Refuse to resume with a different ``train.epochs`` when a schedule was built for the old length.

    A cosine or one-cycle schedule restored from the checkpoint keeps its old length: the extra
    epochs would run at its final learning rate (near 0). Schedules that do not depend on the
    length (none, step, multistep, exponential) simply continue, with a note.

    Raises:
        ConfigError: ``train.epochs`` changed and a length-bound schedule is in use.
    """
    saved = state.get("config", {}).get("train", {}).get("epochs") if isinstance(state.get("config"), dict) else None
    if not isinstance(saved, int) or saved == cfg.train.epochs:
        return
    bound = [
        f"train.optimizers.{i}.scheduler '{o.scheduler.name}'"
        for i, o in enumerate(cfg.train.optimizers)
        if o.scheduler.name in LENGTH_BOUND
    ]
    if bound:
        raise ConfigError(
            f"train.epochs: {cfg.train.epochs} differs from the {saved} epochs that {bound[0]} of "
            f"{path} was built for (the extra epochs would run at its final learning rate); resume "
            f"with --set train.epochs={saved}, or train a longer run from scratch with --force"
        )
    log(f"note: train.epochs changed from {saved} to {cfg.train.epochs} since {path}; the schedules continue")


def check_run_folder(run_dir: Path, out_dir: str) -> None:
    """The run folder and ``run.out_dir`` are folders (or absent), not files.

    Raises:
        ConfigError: a file stands where a folder of the run path goes.
    """
    blocker = next((p for p in (run_dir, *run_dir.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        field = "run.out_dir" if blocker in (Path(out_dir), *Path(out_dir).parents) else "run.name"
        raise ConfigError(
            f"{field}: {blocker} is a file, so the run folder {run_dir} cannot be created; valid: a "
            "folder (created when absent)"
        )
