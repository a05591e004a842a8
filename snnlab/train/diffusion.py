"""Diffusion training: a recipe (data, model, diffusion, train, run) -> ``runs/<name>/``.

The loop draws a random batch of preloaded images in [-1, 1], adds noise at uniform steps and
minimises the epsilon MSE (:meth:`snnlab.functional.diffusion.NoiseSchedule.loss`) with Adam,
gradient clipping and an EMA of the weights. The run folder follows the trainer's conventions:
``config.yaml``, ``metrics.csv``, ``checkpoints/last.pt`` (atomic, resumable with the random
state) and, at the end, ``samples/`` from the EMA model. ``train.init_from`` loads the weights
of a finished SDDPM run into a model with TSM (the SDM fine-tuning).
"""

from __future__ import annotations

import csv
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import torch
import yaml

from snnlab.errors import CheckpointError, ConfigError
from snnlab.functional.diffusion import NoiseSchedule
from snnlab.models import create_model
from snnlab.recipe import build_dataclass, choice, read_yaml_recipe
from snnlab.train.allocator import keep_freed_memory
from snnlab.train.checkpoint import atomic_save, capture_rng, load_checkpoint, remove_stale_temps, restore_rng
from snnlab.train.config import DEVICES
from snnlab.train.diffusion_data import ImageDataConfig, load_images
from snnlab.train.ema import EMA
from snnlab.train.threads import torch_threads

KIND = "diffusion"


@dataclass
class DiffusionConfig:
    """The forward process: ``steps`` linear betas from ``beta_1`` to ``beta_T``."""

    steps: int = 1000
    beta_1: float = 1e-4
    beta_T: float = 0.02


@dataclass
class DiffusionTrainConfig:
    """Loop options (SDDPM's coded defaults: Adam 2e-4, batch 32, clip 1)."""

    steps: int = 1000
    batch_size: int = 32
    lr: float = 2e-4
    warmup: int = 0  # linear lr warm-up steps
    grad_clip: Optional[float] = 1.0
    ema_decay: float = 0.999
    seed: int = 0
    threads: Optional[int] = None  # torch CPU threads
    device: str = choice("cpu", DEVICES)
    log_every: int = 50
    ckpt_every: int = 250
    max_minutes: Optional[float] = None  # stop (and checkpoint) after this wall time
    init_from: Optional[str] = None  # SDDPM run or checkpoint to fine-tune (with model.tsm: true)
    sample_n: int = 64  # images drawn with the EMA model at the end (0: none)
    sample_steps: int = 50  # DDIM steps of those samples


@dataclass
class DiffusionRunConfig:
    name: Optional[str] = None
    out_dir: str = "runs"


@dataclass
class DiffusionRecipe:
    data: ImageDataConfig = field(default_factory=ImageDataConfig)
    model: dict[str, Any] = field(default_factory=lambda: {"name": "sddpm_unet"})
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    train: DiffusionTrainConfig = field(default_factory=DiffusionTrainConfig)
    run: DiffusionRunConfig = field(default_factory=DiffusionRunConfig)

    def run_dir(self) -> Path:
        return Path(self.run.out_dir) / str(self.run.name)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def recipe_from_dict(raw: dict[str, Any], source: str, default_name: str = "diffusion") -> DiffusionRecipe:
    """Validate a recipe mapping (unknown keys and wrong types name the field)."""
    unknown = sorted(set(raw) - {"data", "model", "diffusion", "train", "run"})
    if unknown:
        raise ConfigError(f"{source}: unknown section(s) {unknown}; valid: data, model, diffusion, train, run")
    model = dict(raw.get("model") or {"name": "sddpm_unet"})
    if model.get("name", "sddpm_unet") != "sddpm_unet":
        raise ConfigError(f"{source}: model.name must be sddpm_unet for diffusion, got {model.get('name')!r}")
    rec = DiffusionRecipe(
        data=build_dataclass(ImageDataConfig, raw.get("data"), "data"),
        model=model,
        diffusion=build_dataclass(DiffusionConfig, raw.get("diffusion"), "diffusion"),
        train=build_dataclass(DiffusionTrainConfig, raw.get("train"), "train"),
        run=build_dataclass(DiffusionRunConfig, raw.get("run"), "run"),
    )
    rec.run.name = rec.run.name or default_name
    NoiseSchedule(rec.diffusion.steps, rec.diffusion.beta_1, rec.diffusion.beta_T)  # validates
    return rec


def load_recipe(path: str | Path, overrides: tuple[str, ...] | list[str] = ()) -> DiffusionRecipe:
    """Read a diffusion recipe YAML with ``--set`` overrides."""
    return recipe_from_dict(read_yaml_recipe(path, overrides), str(path), Path(path).stem)


def build_unet(rec: DiffusionRecipe) -> torch.nn.Module:
    """The UNet of a recipe (image size and channels from the data section unless given)."""
    cfg = {k: v for k, v in rec.model.items() if k != "name"}
    cfg.setdefault("image_size", rec.data.image_size)
    cfg.setdefault("diffusion_steps", rec.diffusion.steps)
    if cfg["diffusion_steps"] != rec.diffusion.steps:
        raise ConfigError(f"model.diffusion_steps {cfg['diffusion_steps']} != diffusion.steps {rec.diffusion.steps}")
    return create_model("sddpm_unet", **cfg)


class DiffusionTrainer:
    """Runs one recipe into its run folder; ``resume`` continues from ``checkpoints/last.pt``."""

    def __init__(
        self,
        rec: DiffusionRecipe,
        resume: bool = False,
        force: bool = False,
        log: Callable[[str], None] = lambda m: print(m, flush=True),
    ) -> None:
        self.rec, self.log, self.run_dir = rec, log, rec.run_dir()
        keep_freed_memory()  # as Trainer: no page faults from heap trimming between steps
        torch.manual_seed(rec.train.seed)
        self.device = torch.device(rec.train.device)
        self.schedule = NoiseSchedule(rec.diffusion.steps, rec.diffusion.beta_1, rec.diffusion.beta_T)
        self.model = build_unet(rec).to(self.device)
        if rec.train.init_from and not resume:
            self._init_from(rec.train.init_from)
        self.ema = EMA(self.model, rec.train.ema_decay)
        self.opt = torch.optim.Adam([p for p in self.model.parameters() if p.requires_grad], lr=rec.train.lr)
        self.step, self.history = 0, []
        self.images = load_images(rec.data, "train")  # (N, C, H, W) uint8; before the RNG is restored
        self._prepare_folder(resume, force)

    def _init_from(self, source: str) -> None:
        from snnlab.models.sddpm import load_sddpm_weights

        ckpt = load_checkpoint(_checkpoint_path(source))
        added = load_sddpm_weights(self.model, ckpt.get("ema", {}).get("model") or ckpt["model"], source)
        self.log(f"loaded {source}; new parameters: {len(added)} TSM factor tensors")

    def _prepare_folder(self, resume: bool, force: bool) -> None:
        last = self.run_dir / "checkpoints" / "last.pt"
        if resume:
            self._restore(load_checkpoint(last))
        elif last.exists() and not force:
            raise ConfigError(
                f"{self.run_dir} already holds checkpoints; pass --resume to continue it, or --force to start over"
            )
        self.run_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(self.run_dir / "checkpoints") if (self.run_dir / "checkpoints").exists() else None
        (self.run_dir / "config.yaml").write_text(yaml.safe_dump(self.rec.to_dict(), sort_keys=False))

    def _restore(self, ckpt: dict[str, Any]) -> None:
        if ckpt.get("kind") != KIND:
            raise CheckpointError(f"{self.run_dir}: last.pt is not a diffusion checkpoint")
        self.model.load_state_dict(ckpt["model"])
        self.ema.load_state_dict(ckpt["ema"])
        self.opt.load_state_dict(ckpt["optim"])
        self.step, self.history = int(ckpt["step"]), list(ckpt["history"])
        restore_rng(ckpt["rng"], None)
        self.log(f"resumed {self.run_dir} at step {self.step}/{self.rec.train.steps}")

    def save(self) -> Path:
        """Write ``checkpoints/last.pt`` atomically."""
        from snnlab.train.checkpoint import FORMAT, model_state, to_primitive

        path = self.run_dir / "checkpoints" / "last.pt"
        atomic_save(
            {
                "format": FORMAT,
                "kind": KIND,
                "model_name": "sddpm_unet",
                "step": self.step,
                "model": model_state(self.model),
                "ema": self.ema.state_dict(),
                "optim": self.opt.state_dict(),
                "rng": capture_rng(None),
                "history": self.history,
                "config": to_primitive(self.rec.to_dict()),
            },
            path,
        )
        return path

    def _batch(self) -> torch.Tensor:
        idx = torch.randint(0, self.images.shape[0], (self.rec.train.batch_size,))
        x = self.images[idx].to(self.device, torch.float32) / 127.5 - 1.0  # (B, C, H, W) in [-1, 1]
        if self.rec.data.hflip:
            flip = torch.rand(x.shape[0], device=x.device) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        return x

    def train_step(self) -> float:
        """One optimisation step; returns the loss."""
        tr = self.rec.train
        for g in self.opt.param_groups:
            g["lr"] = tr.lr * min(1.0, (self.step + 1) / tr.warmup) if tr.warmup else tr.lr
        self.model.train()
        loss = self.schedule.loss(self.model, self._batch())
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if tr.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), tr.grad_clip)
        self.opt.step()
        self.ema.update(self.model)
        self.step += 1
        return float(loss.detach())

    def fit(self) -> dict[str, Any]:
        """Train to ``train.steps`` (or ``train.max_minutes``), checkpointing on the way, with
        ``train.threads`` torch threads (the process's count is restored afterwards)."""
        with torch_threads(self.rec.train.threads):
            return self._fit()

    def _fit(self) -> dict[str, Any]:
        tr, t0, window = self.rec.train, time.time(), []
        while self.step < tr.steps:
            window.append(self.train_step())
            if self.step % tr.log_every == 0 or self.step == tr.steps:
                self._log_row(window, time.time() - t0)
                window = []
            if self.step % tr.ckpt_every == 0:
                self.save()
            if tr.max_minutes and time.time() - t0 > 60 * tr.max_minutes:
                self.log(f"stopping at step {self.step}: train.max_minutes={tr.max_minutes} reached")
                break
        if window:
            self._log_row(window, time.time() - t0)
        self.save()
        return {
            "run_dir": str(self.run_dir),
            "step": self.step,
            "loss": self.history[-1]["loss"] if self.history else None,
        }

    def _log_row(self, window: list[float], elapsed: float) -> None:
        row = {"step": self.step, "loss": sum(window) / max(len(window), 1), "seconds": round(elapsed, 1)}
        self.history.append(row)
        self.log(f"step {self.step}/{self.rec.train.steps} loss {row['loss']:.4f} ({elapsed:.0f} s)")
        with open(self.run_dir / "metrics.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(row))
            w.writeheader()
            w.writerows(self.history)


def _checkpoint_path(source: str | Path) -> Path:
    path = Path(source)
    return path / "checkpoints" / "last.pt" if path.is_dir() else path


def load_diffusion_run(
    path: str | Path, weights: str = "ema", device: Optional[torch.device] = None
) -> tuple[DiffusionRecipe, torch.nn.Module, NoiseSchedule]:
    """Recipe, UNet (eval mode, ``weights`` "ema" or "model") and schedule of a diffusion run folder.

    Raises:
        CheckpointError: not a run folder, or a checkpoint of another kind of model.
    """
    if weights not in ("ema", "model"):
        raise ConfigError(f"--weights must be ema or model, got {weights!r}")
    run_dir = Path(path)
    cfg_file, ckpt_file = run_dir / "config.yaml", run_dir / "checkpoints" / "last.pt"
    if not cfg_file.is_file():
        raise CheckpointError(f"{run_dir}: not a run folder (no config.yaml)")
    ckpt = load_checkpoint(ckpt_file)
    if ckpt.get("kind") != KIND or ckpt.get("model_name") != "sddpm_unet":
        raise CheckpointError(
            f"{ckpt_file}: a checkpoint of another model ({ckpt.get('kind', 'classifier')}), "
            "not of snnlab diffusion train"
        )
    raw = yaml.safe_load(cfg_file.read_text()) or {}
    rec = recipe_from_dict(raw, str(cfg_file), run_dir.name)
    model = build_unet(rec)
    state = ckpt["ema"]["model"] if weights == "ema" else ckpt["model"]
    from snnlab.models.sddpm import load_sddpm_weights

    load_sddpm_weights(model, state, str(ckpt_file))
    model.to(device or torch.device("cpu")).eval()
    return rec, model, NoiseSchedule(rec.diffusion.steps, rec.diffusion.beta_1, rec.diffusion.beta_T)
