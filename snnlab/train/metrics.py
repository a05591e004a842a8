"""Per-epoch metrics: firing rates of spiking layers, ``metrics.csv`` and TensorBoard.

The CSV is rewritten whole (atomically) from the run's history every epoch, so a resumed run
that repeats an interrupted epoch never leaves duplicate or torn rows.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

RATE_PREFIX = "rate/"
LEADING = (
    "epoch",
    "train_loss",
    "train_acc",
    "valid_loss",
    "valid_acc",
    "test_loss",
    "test_acc",
    "lr",
    "epoch_time_s",
    "samples_per_s",
)


class FiringRateMonitor:
    """Forward hooks that count spikes of every module with ``is_spiking_neuron = True``.

    Use as a context manager around forward passes; :meth:`rates` gives spikes per neuron
    per step for each layer, averaged over everything seen.
    """

    def __init__(self, model: nn.Module) -> None:
        inner = getattr(model, "module", model)
        self.layers = {n: m for n, m in inner.named_modules() if getattr(m, "is_spiking_neuron", False)}
        self._sum = {n: 0.0 for n in self.layers}
        self._count = {n: 0 for n in self.layers}
        self._handles: list[Any] = []

    def __enter__(self) -> FiringRateMonitor:
        for name, module in self.layers.items():
            self._handles.append(module.register_forward_hook(self._hook(name)))
        return self

    def __exit__(self, *exc: Any) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def _hook(self, name: str):
        def record(_module: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
            self._sum[name] += float(output.detach().float().sum())
            self._count[name] += output.numel()

        return record

    def totals(self) -> torch.Tensor:
        """``(layers, 2)`` spike sums and element counts (for all-reduce across ranks)."""
        return torch.tensor([[self._sum[n], float(self._count[n])] for n in self.layers], dtype=torch.float64)

    def rates(self, totals: torch.Tensor | None = None) -> dict[str, float]:
        """Spikes per neuron per step of each layer."""
        t = self.totals() if totals is None else totals
        return {n: float(t[i, 0] / t[i, 1]) if t[i, 1] > 0 else 0.0 for i, n in enumerate(self.layers)}


def _columns(history: list[dict[str, float]]) -> list[str]:
    seen: list[str] = [c for c in LEADING if any(c in row for row in history)]
    for row in history:
        seen += [k for k in row if k not in seen]
    return seen


def write_metrics_csv(path: str | Path, history: list[dict[str, float]]) -> None:
    """Write every epoch's metrics to ``path`` (atomically).

    Columns include ``valid_loss``/``valid_acc`` when the run has a validation split, else
    ``test_loss``/``test_acc`` (the split evaluated every epoch).
    """
    path = Path(path)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=_columns(history), extrasaction="ignore")
    writer.writeheader()
    for row in history:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as fh:
        fh.write(buf.getvalue())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_metrics_csv(path: str | Path) -> list[dict[str, float]]:
    """Rows of a ``metrics.csv`` as floats (``epoch`` as int)."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for row in rows:
        parsed = {k: float(v) for k, v in row.items() if v not in ("", None)}
        parsed["epoch"] = int(parsed.get("epoch", 0))
        out.append(parsed)
    return out


class TensorBoardLog:
    """Scalars to TensorBoard when ``run.tensorboard`` is on and tensorboard is installed."""

    def __init__(self, folder: Path, enabled: bool) -> None:
        self.writer = None
        if not enabled:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as err:
            from snnlab.errors import ConfigError

            raise ConfigError(
                f"run.tensorboard: true needs the tensorboard package (pip install 'snnlab[tensorboard]'): {err}"
            ) from None
        self.writer = SummaryWriter(log_dir=str(folder))

    def log(self, row: dict[str, float]) -> None:
        if self.writer is None:
            return
        step = int(row["epoch"])
        for key, value in row.items():
            if key != "epoch" and isinstance(value, (int, float)):
                self.writer.add_scalar(key, value, step)
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
