"""Record what the spiking layers of a model emit on a few inputs (for rasters and eval).

Spikes are captured with forward hooks on modules that set ``is_spiking_neuron = True``, in
forward order, as ``uint8`` arrays ``(T, B, neurons)`` (per-step tensors flattened).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn


@torch.no_grad()
def record_spikes(model: nn.Module, x: torch.Tensor) -> tuple[dict[str, np.ndarray], torch.Tensor]:
    """Run ``model`` on ``x (T, B, ...)`` and return ``({layer: spikes (T, B, N) uint8}, output (T, B, C))``."""
    inner = getattr(model, "module", model)
    layers = {n: m for n, m in inner.named_modules() if getattr(m, "is_spiking_neuron", False)}
    captured: dict[str, np.ndarray] = {}
    handles = []
    for name, module in layers.items():

        def hook(_m: nn.Module, _i: Any, out: torch.Tensor, name: str = name) -> None:
            captured[name] = (out.detach().flatten(2) != 0).to(torch.uint8).cpu().numpy()

        handles.append(module.register_forward_hook(hook))
    was_training = inner.training
    inner.eval()
    try:
        out = inner(x)
    finally:
        for h in handles:
            h.remove()
        inner.train(was_training)
    return {n: captured[n] for n in layers if n in captured}, out.detach().cpu()


def save_spikes(
    path: str | Path,
    spikes: dict[str, np.ndarray],
    inputs: torch.Tensor,
    labels: torch.Tensor,
    outputs: torch.Tensor,
    dt: float | None,
) -> None:
    """Write raster data to ``spikes.npz``.

    Keys: ``layers`` (names, in order), ``layer{i}`` spikes (T, B, N) uint8, ``input`` (T, B, F)
    float32, ``labels`` (B,), ``output`` (T, B, C) float32, ``dt`` (seconds per step, NaN if unknown).
    """
    arrays: dict[str, np.ndarray] = {f"layer{i}": s for i, s in enumerate(spikes.values())}
    inp = inputs if inputs.dim() >= 3 else inputs.unsqueeze(0)
    np.savez_compressed(
        path,
        layers=np.array(list(spikes), dtype=np.str_),
        input=inp.flatten(2).float().cpu().numpy(),
        labels=labels.cpu().numpy(),
        output=outputs.float().numpy(),
        dt=np.float64(np.nan if dt is None else dt),
        **arrays,
    )


def load_spikes(path: str | Path) -> dict[str, Any]:
    """Inverse of :func:`save_spikes`: ``{"layers": {name: (T, B, N)}, "input", "labels", "output", "dt"}``."""
    with np.load(path, allow_pickle=False) as data:
        names = [str(n) for n in data["layers"]]
        return {
            "layers": {n: data[f"layer{i}"] for i, n in enumerate(names)},
            "input": data["input"],
            "labels": data["labels"],
            "output": data["output"],
            "dt": float(data["dt"]),
        }
