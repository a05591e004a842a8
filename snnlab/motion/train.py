"""Training and evaluation of the HD-SNN motion detector on synthetic DVS movies.

Training: Adam on the per-voxel binary cross-entropy (:meth:`HDSNN.loss`), mini-batches of
whole movies. The paper's lr 1e-5 (2^10 movies of 200 x 128 x 128, 100 epochs) is for its
scale; on CPU-sized movies (32 x 32, 128 ms) lr 5e-3 converges in a few epochs (the loss is
convex: the layer is a logistic regression).

Evaluation (the paper's decision rule): at each time step the evidence is averaged over all
positions, the bias added and passed through a sigmoid; the predicted class is the argmax.
Accuracy is over every (movie, step) after ``warmup`` steps; chance is ``1 / n_classes``.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from snnlab.errors import CheckpointError, ShapeError
from snnlab.motion.generator import generate_dataset
from snnlab.motion.model import HDSNN
from snnlab.motion.recipe import MotionRecipe, TrainSection

Log = Callable[[str], None]


def build_model(recipe: MotionRecipe) -> HDSNN:
    """The HD-SNN layer a recipe describes, with seeded initial weights."""
    torch.manual_seed(recipe.train.seed)
    m = recipe.model
    return HDSNN(recipe.movie.n_classes, m.kernel_t, m.kernel_xy, cone=m.cone,
                 polarity_invariant=m.polarity_invariant, init_std=m.init_std)


def make_split(recipe: MotionRecipe, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Voxels (N, 2, T, H, W) uint8 and labels (N, T) int64 of the ``train`` or ``test`` split."""
    n, seed = ((recipe.data.n_train, recipe.data.seed_train) if split == "train"
               else (recipe.data.n_test, recipe.data.seed_test))
    voxels, labels = generate_dataset(recipe.movie, n, seed)
    return torch.from_numpy(voxels), torch.from_numpy(labels)


def train_model(model: HDSNN, voxels: torch.Tensor, labels: torch.Tensor, cfg: TrainSection,
                log: Log | None = None) -> list[float]:
    """Fit ``model`` with Adam; returns the mean training loss of each epoch.

    Args:
        model: the layer, trained in place.
        voxels: (N, P, T, H, W) binary voxels.
        labels: (N, T) class per step.
        cfg: epochs, batch, lr, seed.
        log: called with one line per epoch.
    """
    if voxels.shape[0] != labels.shape[0]:
        raise ShapeError(f"{voxels.shape[0]} movies of voxels but {labels.shape[0]} of labels")
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    generator = torch.Generator().manual_seed(cfg.seed)
    history = []
    for epoch in range(cfg.epochs):
        order = torch.randperm(voxels.shape[0], generator=generator)
        total = 0.0
        for start in range(0, len(order), cfg.batch):
            idx = order[start:start + cfg.batch]
            loss = model.loss(voxels[idx].float(), labels[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(idx)
        history.append(total / len(order))
        if log:
            log(f"epoch {epoch + 1}/{cfg.epochs}: loss {history[-1]:.5f}")
    return history


@torch.no_grad()
def predict(model: HDSNN, voxels: torch.Tensor, batch: int = 16) -> torch.Tensor:
    """Predicted class per step: argmax_c sigmoid(mean_{y,x} B[c, t, y, x] + beta_c); (N, T)."""
    out = []
    for start in range(0, voxels.shape[0], batch):
        evidence = model.evidence(voxels[start:start + batch].float()).mean(dim=(-2, -1))  # (B, C, T)
        prob = torch.sigmoid(evidence + model.bias[:, None])
        out.append(prob.argmax(dim=1))
    return torch.cat(out)


def accuracy(prediction: torch.Tensor, labels: torch.Tensor, warmup: int = 0) -> float:
    """Fraction of steps ``t >= warmup`` whose prediction (N, T) equals the label (N, T)."""
    if prediction.shape != labels.shape:
        raise ShapeError(f"predictions {tuple(prediction.shape)} and labels {tuple(labels.shape)} differ in shape")
    if not 0 <= warmup < labels.shape[1]:
        raise ShapeError(f"warmup must lie in [0, {labels.shape[1]}), got {warmup}")
    return float((prediction[:, warmup:] == labels[:, warmup:]).float().mean())


def evaluate(model: HDSNN, voxels: torch.Tensor, labels: torch.Tensor, warmup: int) -> float:
    """Accuracy of ``model`` on a split (see :func:`predict` and :func:`accuracy`)."""
    return accuracy(predict(model, voxels), labels, warmup)


def save_model(model: HDSNN, recipe: MotionRecipe, path: Path) -> None:
    """Checkpoint with the weights and the recipe, written atomically (temp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"state_dict": model.state_dict(), "recipe": json.dumps(asdict(recipe))}, tmp)
    tmp.replace(path)


def load_model(recipe: MotionRecipe, path: Path) -> HDSNN:
    """Load a checkpoint written by :func:`save_model` for the same recipe.

    Raises:
        CheckpointError: unreadable file or one trained with a different model/movie section.
    """
    try:
        state = torch.load(path, weights_only=True)
        saved = json.loads(state["recipe"])
    except (OSError, RuntimeError, KeyError, ValueError) as err:
        raise CheckpointError(f"{path}: not a motion checkpoint ({err})") from None
    mine = asdict(recipe)
    for section in ("movie", "model"):
        if saved.get(section) != mine[section]:
            raise CheckpointError(f"{path}: trained with a different '{section}' section; "
                                  "train again (snnlab motion train) or use another --out")
    model = build_model(recipe)
    model.load_state_dict(state["state_dict"])
    return model


def run_train(recipe: MotionRecipe, out: Path, log: Log = print) -> dict[str, Any]:
    """Generate the data, train, evaluate, and write ``out/model.pt`` and ``out/train_results.json``."""
    start = time.time()
    train_x, train_y = make_split(recipe, "train")
    test_x, test_y = make_split(recipe, "test")
    log(f"data: {len(train_x)} train / {len(test_x)} test movies, voxel density {float(train_x.float().mean()):.3f} "
        f"({time.time() - start:.0f} s)")
    model = build_model(recipe)
    history = train_model(model, train_x, train_y, recipe.train, log)
    result = {"name": recipe.name, "n_classes": recipe.movie.n_classes, "chance": 1.0 / recipe.movie.n_classes,
              "train_accuracy": evaluate(model, train_x, train_y, recipe.warmup),
              "test_accuracy": evaluate(model, test_x, test_y, recipe.warmup),
              "loss_history": history, "n_synapses": model.n_synapses(), "warmup_steps": recipe.warmup,
              "seconds": time.time() - start}
    save_model(model, recipe, out / "model.pt")
    write_json(out / "train_results.json", result)
    write_config(out, recipe)
    return result


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as indented JSON, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(path)


def write_config(out: Path, recipe: MotionRecipe) -> None:
    """Write the resolved recipe as ``out/config.yaml``."""
    import yaml

    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(asdict(recipe), sort_keys=False))
