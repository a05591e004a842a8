"""Models of runs: fill dataset-dependent options, build, and reload a trained run.

``resolve_model_config`` completes the ``model`` section from the dataset (``num_classes``,
``in_features`` / ``input_shape`` / ``in_channels``) when the recipe leaves them out, so the
``config.yaml`` saved in a run folder is enough to rebuild the model exactly.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch
from torch import nn

from snnlab.config import Config, config_from_dict, read_yaml_recipe
from snnlab.errors import CheckpointError, ConfigError, one_line


def resolve_model_config(model: dict[str, Any], num_classes: int, input_shape: tuple[int, ...]) -> dict[str, Any]:
    """Return ``model`` with the dataset-dependent options filled in where the model takes them."""
    from snnlab.models import model_defaults

    out = dict(model)
    accepted = model_defaults(str(out["name"]))
    derived: dict[str, Any] = {}
    if num_classes:
        derived["num_classes"] = int(num_classes)
    if input_shape:
        derived["in_features"] = int(math.prod(input_shape))
        derived["input_shape"] = list(input_shape)
        derived["in_channels"] = int(input_shape[0])
    for key, value in derived.items():
        if key in accepted and out.get(key) is None:
            out[key] = value
    return out


def build_model(model_cfg: dict[str, Any]) -> nn.Module:
    """``create_model(name, **options)`` from a ``model`` section."""
    from snnlab.models import create_model

    options = {k: v for k, v in model_cfg.items() if k != "name"}
    try:
        return create_model(str(model_cfg["name"]), **options)
    except ConfigError:
        raise
    except (ValueError, TypeError) as err:  # a constructor rejecting an option: name the section
        raise ConfigError(f"model ({model_cfg['name']}): {one_line(err)}") from None


@dataclass
class LoadedRun:
    """A trained run: its configuration, model (eval mode, weights loaded) and checkpoint metadata."""

    run_dir: Path
    config: Config
    model: nn.Module
    checkpoint: str  # "best" or "last"
    epoch: int
    best: float


def resolve_run_dir(path: str | Path) -> Path:
    """A run folder given as itself, its config.yaml, or a checkpoint inside it."""
    p = Path(path)
    if p.is_file():
        p = p.parent.parent if p.parent.name == "checkpoints" else p.parent
    if not (p / "config.yaml").is_file():
        raise CheckpointError(f"{path}: not a run folder (no config.yaml); expected runs/<name> written by "
                              "'snnlab train' or 'snnlab demo'")
    return p


def load_run(path: str | Path, which: str = "best", device: Optional[torch.device] = None) -> LoadedRun:
    """Rebuild a run's model from ``config.yaml`` and ``checkpoints/<which>.pt``.

    Args:
        path: the run folder (or a file in it).
        which: "best" or "last"; "best" falls back to "last" when absent.
        device: where to put the model (default CPU).

    Raises:
        CheckpointError: missing folder/checkpoint or weights that do not fit the model.
    """
    import yaml

    from snnlab.train.checkpoint import load_checkpoint

    if which not in ("best", "last"):
        raise ConfigError(f"checkpoint must be 'best' or 'last', got {which!r}")
    run_dir = resolve_run_dir(path)
    cfg_path = run_dir / "config.yaml"
    cfg = config_from_dict(read_yaml_recipe(cfg_path), str(cfg_path))
    file = run_dir / "checkpoints" / f"{which}.pt"
    if not file.is_file() and which == "best":
        which, file = "last", run_dir / "checkpoints" / "last.pt"
    state = load_checkpoint(file)
    model = build_model(cfg.model)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as err:
        raise CheckpointError(f"{file}: weights do not fit the model of {cfg_path}: {err}") from None
    model.to(device or torch.device("cpu")).eval()
    return LoadedRun(run_dir, cfg, model, which, int(state["epoch"]), float(state["best"]))
