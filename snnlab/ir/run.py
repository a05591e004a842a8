"""Rebuild the trained model of a run folder ``runs/<name>/`` (config.yaml + checkpoints/)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Union

from torch import nn

from snnlab.errors import CheckpointError

CHECKPOINTS = ("best.pt", "last.pt")  # preference order


def find_checkpoint(run_dir: Path) -> Path:
    """``checkpoints/best.pt``, else ``checkpoints/last.pt``; CheckpointError naming both when absent."""
    for name in CHECKPOINTS:
        path = run_dir / "checkpoints" / name
        if path.is_file():
            return path
    raise CheckpointError(f"run folder {str(run_dir)!r} has no checkpoint: expected checkpoints/best.pt "
                          f"or checkpoints/last.pt (train it with `snnlab train`)")


def _state_dict(ckpt: dict[str, Any]) -> dict[str, Any]:
    state = ckpt["model"]
    if state and all(k.startswith("module.") for k in state):  # saved from a DDP wrapper
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def load_run_model(run_dir: Union[str, Path]) -> nn.Module:
    """The model of a run, built from its ``config.yaml`` and loaded from its best checkpoint.

    Args:
        run_dir: a run folder holding ``config.yaml`` and ``checkpoints/{best,last}.pt``.

    Returns:
        The model in evaluation mode.

    Raises:
        CheckpointError: the folder, its config or its checkpoint is missing, or the weights do
            not fit the configured model.
        ConfigError: the config names an unknown model or option.
    """
    from snnlab.config import load_config
    from snnlab.models import create_model
    from snnlab.train.checkpoint import load_checkpoint

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"run folder {str(run_dir)!r} does not exist")
    config = run_dir / "config.yaml"
    if not config.is_file():
        raise CheckpointError(f"run folder {str(run_dir)!r} has no config.yaml; is it a run folder (runs/<name>)?")
    cfg = load_config(config)
    model_cfg = {k: v for k, v in cfg.model.items() if k != "name"}
    model = create_model(str(cfg.model["name"]), **model_cfg)
    ckpt_path = find_checkpoint(run_dir)
    try:
        model.load_state_dict(_state_dict(load_checkpoint(ckpt_path)))
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise CheckpointError(f"{ckpt_path}: the weights do not fit model '{cfg.model['name']}' ({first})") from None
    return model.eval()
