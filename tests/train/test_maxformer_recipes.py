"""The Max-Former recipes: one CPU epoch of each on tiny files (widths shrunk), the paper's
settings checked where they are read, and the Fashion-MNIST recipes on written IDX files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from snnlab.data.idx import write_idx
from snnlab.train import Trainer
from snnlab.train.config import load_config

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ["train.epochs=1", "data.num_workers=0", "run.progress=false", "data.eval_batch_size=16"]
SMALL = {
    "maxformer_cifar": ["model.dims=[8, 16, 32]", "model.heads=[2, 2, 2]", "model.T=2"],
    "max_resnet18": ["model.widths=[8, 8, 16]", "model.stem_width=4", "model.T=2"],
}


def _run(recipe: str, root: Path, tmp_path: Path, extra: list[str]) -> dict:
    cfg = load_config(
        ROOT / "experiments" / recipe, [f"data.root={root}", f"run.out_dir={tmp_path / 'runs'}", *SMOKE, *extra]
    )
    return {"cfg": cfg, "summary": Trainer(cfg).fit()}


@pytest.mark.slow
@pytest.mark.parametrize("recipe", ["cifar10_maxformer.yaml", "cifar10_max_resnet18.yaml"])
def test_cifar_recipes_run_with_the_paper_augmentation(recipe, cifar10_files, tmp_path):
    cfg = load_config(ROOT / "experiments" / recipe, [])
    assert cfg.train.mixup.off_epoch == 200 and cfg.train.label_smoothing == 0.1 and cfg.data.batch_size == 128
    assert (
        cfg.data.train_options["randaugment"] == "rand-m9-n1-mstd0.4-inc1" and cfg.data.train_options["reprob"] == 0.25
    )
    opt = cfg.train.optimizers[0]
    assert (opt.name, opt.lr, opt.weight_decay, cfg.train.epochs) == ("adamw", 1.5e-3, 0.06, 410)
    out = _run(recipe, cifar10_files, tmp_path, ["data.batch_size=10", *SMALL[cfg.model["name"]]])
    assert 0.0 <= out["summary"]["test"]["accuracy"] <= 1.0


def test_paper_recipe_settings():
    for recipe in ("cifar10_maxformer.yaml", "cifar10_max_resnet18.yaml"):
        cfg = load_config(ROOT / "experiments" / recipe, [])
        assert cfg.train.mixup.off_epoch == 200 and cfg.train.label_smoothing == 0.1 and cfg.data.batch_size == 128
        assert cfg.data.train_options["randaugment"] == "rand-m9-n1-mstd0.4-inc1"
    for recipe in ("cifar10dvs_maxformer.yaml", "dvsgesture_maxformer.yaml"):
        cfg = load_config(ROOT / "experiments" / recipe, [])
        assert cfg.model["name"] == "maxformer_dvs" and cfg.train.mixup.off_epoch == 75
    cfg = load_config(ROOT / "experiments" / "imagenet_maxformer_10_768.yaml", [])
    assert cfg.train.optimizers[0].lr == 2.7e-3 and cfg.model["name"] == "maxformer_10_768"
    cfg = load_config(ROOT / "experiments" / "cifar100_maxformer.yaml", [])
    assert cfg.data.name == "cifar100" and cfg.data.batch_size == 64
    assert (cfg.train.mixup.mixup_alpha, cfg.train.mixup.off_epoch) == (0.75, 250)


def _fmnist_files(root: Path, n: int = 120) -> Path:
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    for part in ("train", "t10k"):
        labels = (np.arange(n) % 10).astype(np.uint8)
        images = (rng.random((n, 28, 28)) * 60 + labels[:, None, None] * 19).astype(np.uint8)  # learnable
        write_idx(root / f"{part}-images-idx3-ubyte.gz", images)
        write_idx(root / f"{part}-labels-idx1-ubyte.gz", labels)
    return root


@pytest.mark.parametrize("recipe", ["fmnist_maxformer.yaml", "fmnist_max_resnet.yaml"])
def test_fmnist_recipes(recipe, tmp_path):
    root = _fmnist_files(tmp_path / "fmnist")
    out = _run(recipe, root, tmp_path, ["data.batch_size=20", "data.options.valid_size=20", "model.T=2"])
    assert out["cfg"].run.monitor == "valid_acc" and out["summary"]["selection_split"] == "valid"
    assert 0.0 <= out["summary"]["test"]["accuracy"] <= 1.0


def _dvs_files(root: Path, kind: str) -> Path:
    from snnlab.data.aedat import write_aedat2, write_aedat31
    from snnlab.data.dvs import CIFAR10DVS_CLASSES

    rng = np.random.default_rng(1)

    def ev(n):
        return (
            rng.integers(0, 128, n),
            rng.integers(0, 128, n),
            rng.integers(0, 2, n),
            np.sort(rng.integers(0, 10**6, n)),
        )

    if kind == "cifar10dvs":
        for name in CIFAR10DVS_CLASSES:
            (root / name).mkdir(parents=True)
            for i in range(10):
                write_aedat2(root / name / f"cifar10_{name}_{i}.aedat", *ev(300))
        return root
    folder = root / "DvsGesture"
    folder.mkdir(parents=True)
    for split, trial in (("train", "user01_led.aedat"), ("test", "user24_led.aedat")):
        (folder / f"trials_to_{split}.txt").write_text(trial + "\n")
        write_aedat31(folder / trial, *ev(3000))
        rows = ["class,startTime_usec,endTime_usec"] + [f"{c},{c * 80_000},{c * 80_000 + 70_000}" for c in range(1, 12)]
        (folder / trial.replace(".aedat", "_labels.csv")).write_text("\n".join(rows) + "\n")
    return root


@pytest.mark.slow
@pytest.mark.parametrize(
    "recipe, kind, valid",
    [("cifar10dvs_maxformer.yaml", "cifar10dvs", 10), ("dvsgesture_maxformer.yaml", "dvs128_gesture", 5)],
)
def test_dvs_recipes(recipe, kind, valid, tmp_path):
    cfg = load_config(ROOT / "experiments" / recipe, [])
    assert cfg.model["name"] == "maxformer_dvs" and cfg.data.options["T"] == 16 and cfg.train.mixup.off_epoch == 75
    root = _dvs_files(tmp_path / kind, kind)
    out = _run(
        recipe,
        root,
        tmp_path,
        [
            "data.batch_size=4",
            "data.options.T=2",
            "model.T=2",
            "model.img_size=128",
            "model.dims=[16, 32]",
            "model.heads=[2, 2]",
            f"data.options.valid_size={valid}",
        ],
    )
    assert 0.0 <= out["summary"]["test"]["accuracy"] <= 1.0


@pytest.mark.slow
def test_imagenet_recipe_on_a_tiny_image_folder(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for wnid in ("n01440764", "n01443537"):
            (tmp_path / "imagenet" / split / wnid).mkdir(parents=True)
            for i in range(3):
                arr = rng.integers(0, 256, (40 + 3 * i, 50, 3), dtype=np.uint8)
                Image.fromarray(arr).save(tmp_path / "imagenet" / split / wnid / f"{wnid}_{i}.JPEG")
    cfg = load_config(ROOT / "experiments" / "imagenet_maxformer_10_768.yaml", [])
    assert cfg.train.optimizers[0].lr == 2.7e-3 and cfg.train.mixup.prob == 0.5 and cfg.data.batch_size == 512
    out = _run(
        "imagenet_maxformer_10_768.yaml",
        tmp_path / "imagenet",
        tmp_path,
        [
            "data.batch_size=4",
            "data.options.image_size=32",
            "model.img_size=32",
            "model.dim=64",
            "model.depths=[1, 1, 1]",
            "model.T=1",
            "model.num_classes=2",
            "train.optimizers.0.scheduler.warmup=1",
        ],
    )
    assert 0.0 <= out["summary"]["test"]["accuracy"] <= 1.0


def test_image_folder_classification_pipeline(tmp_path):
    from PIL import Image

    from snnlab.data import create_dataset

    (tmp_path / "train" / "a").mkdir(parents=True)
    Image.fromarray(np.full((60, 80, 3), 200, np.uint8)).save(tmp_path / "train" / "a" / "x.png")
    plain = create_dataset("image_folder", str(tmp_path), "train", image_size=16, crop_pct=0.875)
    assert tuple(plain[0][0].shape) == (3, 16, 16) and torch_allclose(plain[0][0], 200 / 255)
    aug = create_dataset(
        "image_folder",
        str(tmp_path),
        "train",
        image_size=16,
        augment=True,
        normalize=True,
        randaugment="rand-m9-mstd0.5-inc1-timm",
        reprob=1.0,
        seed=0,
    )
    assert len(aug[0][0][0].unique()) > 1 and aug.post[0].ops == tuple(
        __import__("snnlab.data.image_augment", fromlist=["OP_SETS"]).OP_SETS["timm"]
    )


def torch_allclose(x, value):
    import torch

    return bool(torch.allclose(x, torch.full_like(x, value), atol=1e-6))
