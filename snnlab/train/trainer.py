"""The trainer: builds data, model and optimisers from a :class:`snnlab.train.config.Config`, runs the
epochs, logs metrics and keeps resumable checkpoints.

Model selection: every epoch is evaluated on the validation split when ``data.valid_split`` is
set (metrics ``valid_loss``/``valid_acc``), else on the test split; ``run.monitor`` (default
``valid_acc`` / ``test_acc`` accordingly) picks ``checkpoints/best.pt`` (ties go to the lower
loss on the same split). When the last epoch is
done, the best and the last weights are evaluated once on the test split: ``eval.json`` and the
summary of :meth:`Trainer.fit` report them together with the split that selected best.pt.

Reproducibility contract: with ``train.deterministic`` on the CPU and ``num_workers=0``, a run
killed at any point (even during a checkpoint write) and resumed with ``resume=True`` ends with
bit-identical weights and metrics to an uninterrupted run. Everything random is either reseeded
per epoch (the sampler's permutation) or saved in ``checkpoints/last.pt`` (torch, numpy, python
and DataLoader generator states).
"""

from __future__ import annotations

import copy
import math
import os
import random
import time
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch
from torch import nn

from snnlab.errors import CheckpointError, ConfigError, one_line
from snnlab.results import EVAL
from snnlab.train import checkpoint as ckpt
from snnlab.train import runlock
from snnlab.train.allocator import keep_freed_memory
from snnlab.train.config import Config
from snnlab.train.data import RunData, build_run_data
from snnlab.train.distributed import DistContext, init_distributed, shutdown
from snnlab.train.evaluation import selection_info, write_eval_json
from snnlab.train.loop import StepConfig, evaluate, train_epoch
from snnlab.train.losses import build_loss
from snnlab.train.metrics import RATE_PREFIX, TensorBoardLog, write_metrics_csv
from snnlab.train.mixup import Mixup
from snnlab.train.model_io import build_model, resolve_model_config
from snnlab.train.optim import OptimizerSet
from snnlab.train.setup import check_run_folder, check_schedule_length, describe_setup


def seed_everything(seed: int, deterministic: bool) -> None:
    """Seed torch, numpy and python; optionally force deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False


def resolve_device(name: str, ctx: Optional[DistContext] = None) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU raises ConfigError."""
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device: 'cuda' requested but no CUDA device is available; valid here: auto, cpu")
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    return torch.device("cuda", ctx.local_rank if ctx else 0)


def _amp_setup(mode: str, device: torch.device) -> tuple[Optional[torch.dtype], Optional[torch.amp.GradScaler]]:
    if device.type != "cuda" or mode == "off":
        return None, None
    if mode == "bf16" or (mode == "auto" and torch.cuda.is_bf16_supported()):
        return torch.bfloat16, None
    return torch.float16, torch.amp.GradScaler("cuda")


class Trainer:
    """Train one configuration into one run folder.

    Args:
        cfg: the validated configuration (``cfg.run`` names the folder).
        resume: continue from ``checkpoints/last.pt`` when it exists.
        overwrite: allow starting over in a folder that already holds checkpoints.
        log: where one-line progress messages go (rank 0 only).
    """

    def __init__(
        self, cfg: Config, resume: bool = False, overwrite: bool = False, log: Callable[[str], None] = print
    ) -> None:
        self.cfg, self.log = cfg, log
        keep_freed_memory()  # no page faults from heap trimming between steps (SNNLAB_KEEP_FREED_MEMORY=0: off)
        pre = resolve_device(cfg.train.device)
        self.ctx = init_distributed(pre.type)
        self.device = resolve_device(cfg.train.device, self.ctx)
        self.run_dir = cfg.run_dir()
        check_run_folder(self.run_dir, cfg.run.out_dir)
        self.lock: Optional[Path] = runlock.acquire(self.run_dir, log) if self.ctx.is_main else None
        try:
            self._setup(resume, overwrite)
        except BaseException:
            self._unlock()
            raise

    def _setup(self, resume: bool, overwrite: bool) -> None:
        """Data, model, optimisers and the run folder (under the run lock)."""
        cfg = self.cfg
        seed_everything(cfg.train.seed, cfg.train.deterministic)
        self.data: RunData = build_run_data(cfg.data, cfg.train.seed, self.ctx)
        cfg.model = resolve_model_config(cfg.model, self.data.num_classes, self.data.input_shape)
        self.model = build_model(cfg.model).to(self.device)
        self.net = self._wrap(self.model)
        steps = len(self.data.train_loader)
        steps = steps if cfg.train.max_batches is None else min(steps, cfg.train.max_batches)
        self.opt = OptimizerSet(self.model, cfg.train.optimizers, cfg.train.epochs, steps)
        self.loss_fn = build_loss(cfg.train.loss, cfg.train.label_smoothing)
        self.mixer = (
            Mixup(cfg.train.mixup, self.data.num_classes, cfg.train.label_smoothing, cfg.train.seed)
            if cfg.train.mixup.enabled
            else None
        )
        amp_dtype, scaler = _amp_setup(cfg.train.amp, self.device)
        hooks = [self.model.after_optimizer_step] if hasattr(self.model, "after_optimizer_step") else []
        self.step = StepConfig(
            self.device, amp_dtype, scaler, cfg.train.grad_clip, cfg.train.max_batches, cfg.run.progress, hooks
        )
        self.epoch, self.best, self.best_epoch = 0, -math.inf, 0
        self.history: list[dict[str, float]] = []
        self.best_weights: Optional[dict[str, torch.Tensor]] = None  # CPU copy of best.pt's model (every rank)
        self._prepare_folder(resume, overwrite)
        self.tb = TensorBoardLog(self.run_dir / "tensorboard", cfg.run.tensorboard and self.ctx.is_main)
        if self.ctx.is_main:
            self.log(describe_setup(cfg, self.data, self.model, self.device))

    def _unlock(self) -> None:
        if self.lock is not None:
            runlock.release(self.lock)
            self.lock = None

    def _wrap(self, model: nn.Module) -> nn.Module:
        if not self.ctx.enabled:
            return model
        ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=ids)

    @property
    def ckpt_dir(self) -> Path:
        return self.run_dir / "checkpoints"

    def _prepare_folder(self, resume: bool, overwrite: bool) -> None:
        last = self.ckpt_dir / "last.pt"
        if self.ctx.is_main:
            self.ckpt_dir.mkdir(parents=True, exist_ok=True)
            ckpt.remove_stale_temps(self.ckpt_dir)
        if resume:
            path, state = ckpt.load_resume_state(self.ckpt_dir, self.log)
            check_schedule_length(state, self.cfg, path, self.log)
            self._load(state, path)
            self.log(f"resumed {self.run_dir} at epoch {self.epoch}/{self.cfg.train.epochs}")
        elif last.exists() and not overwrite:
            raise ConfigError(
                f"{self.run_dir} already holds checkpoints; pass --resume to continue it, "
                "--force to start over, or --set run.name=NEW"
            )
        if self.ctx.is_main:
            self.cfg.save(self.run_dir / "config.yaml")

    def _load(self, state: dict[str, Any], path: Path) -> None:
        ckpt.check_resume_state(state, path)
        try:
            self.model.load_state_dict(state["model"])
            self.opt.load_state_dict(state["optim"])
        except (RuntimeError, KeyError, ValueError, TypeError, IndexError) as err:
            raise CheckpointError(f"{path} does not match this configuration: {one_line(err)}") from None
        try:
            if self.step.scaler is not None and state.get("scaler"):
                self.step.scaler.load_state_dict(state["scaler"])
            self.epoch, self.best, self.best_epoch = int(state["epoch"]), float(state["best"]), int(state["best_epoch"])
            self.history = [dict(row) for row in state["history"]]
            ckpt.restore_rng(state["rng"], self.data.generator)
        except (RuntimeError, KeyError, ValueError, TypeError, IndexError, AttributeError) as err:
            raise CheckpointError(
                f"{path}: damaged resume state ({type(err).__name__}: {one_line(err)}); start over with --force"
            ) from None

    def _state(self) -> dict[str, Any]:
        return {
            "format": ckpt.FORMAT,
            "epoch": self.epoch,
            "model": ckpt.model_state(self.model),
            "optim": self.opt.state_dict(),
            "scaler": self.step.scaler.state_dict() if self.step.scaler else {},
            "rng": ckpt.capture_rng(self.data.generator),
            "best": self.best,
            "best_epoch": self.best_epoch,
            "history": self.history,
            "config": ckpt.to_primitive(self.cfg.to_dict()),
        }

    def _save(self, improved: bool) -> None:
        """best.pt first (when improved), then last.pt: a kill in between only repeats an epoch."""
        if not self.ctx.is_main:
            return
        state = self._state()
        if improved:
            ckpt.atomic_save(state, self.ckpt_dir / "best.pt")
        ckpt.atomic_save(state, self.ckpt_dir / "last.pt")

    def run_epoch(self) -> dict[str, float]:
        """Train and evaluate one epoch, update schedules and hooks; returns the metrics row."""
        index, epochs = self.epoch, self.cfg.train.epochs
        self.data.sampler.set_epoch(index)
        start = time.perf_counter()
        lr = self.opt.lrs()[0]
        if self.mixer is not None:
            self.mixer.start_epoch(index)  # reseeded per epoch (resumable); off from train.mixup.off_epoch
        row: dict[str, float] = {
            "epoch": index + 1,
            **train_epoch(
                self.net,
                self.data.train_loader,
                self.loss_fn,
                self.opt,
                self.step,
                self.ctx,
                desc=f"epoch {index + 1}/{epochs}",
                mixer=self.mixer,
            ),
        }
        split = "valid" if self.data.valid_loader is not None else "test"
        result = evaluate(self.model, self.data.selection_loader, self.loss_fn, self.step, self.ctx, prefix=split)
        row.update({f"{split}_loss": result[f"{split}_loss"], f"{split}_acc": result[f"{split}_acc"]})
        row.update(
            {
                **self.loss_fn.extra_metrics("train", row["train_loss"]),
                **self.loss_fn.extra_metrics(split, result[f"{split}_loss"]),
            }
        )
        row.update(lr=lr, epoch_time_s=time.perf_counter() - start)
        row.update({RATE_PREFIX + name: rate for name, rate in result["rates"].items()})
        self.opt.end_epoch()
        if hasattr(self.model, "on_epoch_end"):
            self.model.on_epoch_end(index, epochs)
        return row

    def fit(self, max_epochs: Optional[int] = None) -> dict[str, Any]:
        """Run the remaining epochs (at most ``max_epochs`` in this call; a later ``resume``
        continues exactly); after the last epoch, evaluate best and last weights on the test split.

        Returns:
            The summary: run folder, ``best`` (the monitored metric) and ``best_epoch``, epochs
            done, the ``last`` metrics row, ``selected_on``/``selection_split``, and, once every
            epoch is done, ``test`` (the test evaluation, as written to ``eval.json``).
        """
        monitor = self.cfg.run.monitor or selection_info(self.cfg)["selected_on"]
        stop = self.cfg.train.epochs if max_epochs is None else min(self.cfg.train.epochs, self.epoch + max_epochs)
        test: dict[str, Any] = {}
        finished = False
        try:
            while self.epoch < stop:
                self._fit_epoch(monitor)
            if self.epoch >= self.cfg.train.epochs:
                test = self.final_test()
            finished = True
        finally:
            self._unlock()
            self.tb.close()
            self.net = self.model  # release the DDP wrapper (its reducer holds the process group) first
            shutdown(self.ctx, sync=finished)
        return {
            "run_dir": str(self.run_dir),
            "best": self.best,
            "best_epoch": self.best_epoch,
            "epochs": self.epoch,
            "last": self.history[-1] if self.history else {},
            **selection_info(self.cfg),
            "test": test,
        }

    def _fit_epoch(self, monitor: str) -> None:
        """One epoch, then keep best.pt (when ``monitor`` improved) and last.pt, and log."""
        row = self.run_epoch()
        if monitor not in row:
            raise ConfigError(f"run.monitor: '{monitor}' is not a metric; valid: {', '.join(row)}")
        self.epoch += 1
        improved = self._improves(row, monitor)
        if improved:
            self.best, self.best_epoch = row[monitor], self.epoch
            self.best_weights = ckpt.model_state(self.model)
        self.history.append(row)
        self._save(improved)
        self._report(row)

    def _improves(self, row: dict[str, float], monitor: str) -> bool:
        """Whether ``row`` beats best.pt: a higher ``monitor``, or an equal one with a lower loss
        on the same split (accuracy on a few hundred samples ties often; the loss breaks the tie)."""
        if row[monitor] != self.best:
            return row[monitor] > self.best
        loss = monitor.replace("_acc", "_loss")
        best_loss = self.history[self.best_epoch - 1].get(loss, math.inf) if self.best_epoch else math.inf
        return row.get(loss, math.inf) < best_loss

    def _best_state(self) -> dict[str, torch.Tensor]:
        """Weights of best.pt: kept in memory since improving, else read back (a resumed run)."""
        if self.best_weights is not None:
            return self.best_weights
        best = self.ckpt_dir / "best.pt"
        return ckpt.load_checkpoint(best)["model"] if best.is_file() else ckpt.model_state(self.model)

    def final_test(self) -> dict[str, Any]:
        """Evaluate the best and the last weights once on the test split; rank 0 writes ``eval.json``.

        The test split selects nothing here: best.pt was chosen before on ``run.monitor``.
        """
        loader = self.data.test_loader
        last = evaluate(self.model, loader, self.loss_fn, self.step, self.ctx)
        best_model = copy.deepcopy(self.model)  # no fresh init: the RNG streams stay untouched
        best_model.load_state_dict(self._best_state())
        best = evaluate(best_model, loader, self.loss_fn, self.step, self.ctx)
        data = self.cfg.data
        report = {
            "accuracy": best["test_acc"],
            "loss": best["test_loss"],
            "samples": best["samples"],
            "firing_rates": best["rates"],
            "checkpoint": "best",
            "epoch": self.best_epoch,
            "split": data.test_split,
            "dataset": data.name,
            "model": self.cfg.model["name"],
            **selection_info(self.cfg),
            "accuracy_last": last["test_acc"],
            "loss_last": last["test_loss"],
            "last_epoch": self.epoch,
            "files": [EVAL],
            **self.loss_fn.extra_metrics("test", best["test_loss"]),
        }
        if self.ctx.is_main:
            write_eval_json(self.run_dir, report)
        return report

    def _report(self, row: dict[str, float]) -> None:
        if not self.ctx.is_main:
            return
        write_metrics_csv(self.run_dir / "metrics.csv", self.history)
        self.tb.log(row)
        self.log(
            f"epoch {int(row['epoch'])}/{self.cfg.train.epochs}  loss {row['train_loss']:.4f}  "
            f"train {row['train_acc']:.2%}  {self._eval_label(row)}  "
            f"{row['samples_per_s']:.0f} samples/s  {row['epoch_time_s']:.1f}s"
        )

    @staticmethod
    def _eval_label(row: dict[str, float]) -> str:
        """``valid 97.22%`` or ``test 94.72%``: the split evaluated this epoch."""
        split = "valid" if "valid_acc" in row else "test"
        bpc = f" ({row[f'{split}_bpc']:.3f} bpc)" if f"{split}_bpc" in row else ""
        return f"{split} {row[f'{split}_acc']:.2%}{bpc}"
