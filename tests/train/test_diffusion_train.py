"""``snnlab diffusion train|sample|eval`` end to end on a tiny image folder; resume; TSM fine-tuning."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from snnlab.cli import main
from snnlab.results import stray_results
from snnlab.train.checkpoint import load_checkpoint
from snnlab.train.diffusion import DiffusionTrainer, load_diffusion_run, load_recipe


def write_folder(root: Path, n: int = 8) -> Path:
    """Grey 12x12 PNGs in train/valid-less class folders (stripes at 3 places)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in range(3):
        d = root / "train" / f"class{c}"
        d.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            a = rng.integers(0, 30, (12, 12)).astype(np.uint8)
            a[:, 4 * c : 4 * c + 4] = 220
            Image.fromarray(a).save(d / f"{i}.png")
    return root


def write_recipe(tmp: Path, name: str = "tiny", **train) -> Path:
    recipe = {
        "data": {
            "name": "image_folder",
            "root": str(write_folder(tmp / "imgs")),
            "image_size": 8,
            "options": {"channels": 1, "image_size": 12},
        },
        "model": {"in_channels": 1, "ch": 4, "ch_mult": [1, 2], "num_res_blocks": 1, "T": 2},
        "diffusion": {"steps": 40},
        "train": {"steps": 4, "batch_size": 4, "log_every": 1, "ckpt_every": 2, "threads": 1, **train},
        "run": {"name": name, "out_dir": str(tmp / "runs")},
    }
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def test_train_sample_eval_from_the_cli(tmp_path: Path, capsys) -> None:
    recipe = write_recipe(tmp_path)
    assert main(["diffusion", "train", str(recipe)]) == 0
    run = tmp_path / "runs" / "tiny"
    ckpt = load_checkpoint(run / "checkpoints" / "last.pt")
    assert ckpt["kind"] == "diffusion" and ckpt["step"] == 4 and len(ckpt["history"]) == 4
    assert (run / "metrics.csv").read_text().count("\n") == 5
    assert main(["diffusion", "sample", str(run), "--steps", "3", "--n", "5", "--threshold", "0.998"]) == 0
    npz = run / "samples" / "ddim3_th0.998_n5_s0.npz"
    with np.load(npz) as z:
        assert z["images"].shape == (5, 1, 8, 8) and z["images"].dtype == np.uint8
    assert (run / "samples" / "ddim3_th0.998_n5_s0.png").is_file()
    assert (
        main(
            [
                "diffusion",
                "eval",
                str(run),
                "--samples",
                str(npz),
                "--steps",
                "3",
                "--metric-epochs",
                "1",
                "--hw",
                "loihi2",
                "--tag",
                "t",
            ]
        )
        == 0
    )
    report = json.loads((run / "eval" / "t.json").read_text())
    assert report["FD-foldernet"] >= 0 and 1.0 <= report["score-foldernet"] <= 3.0 + 1e-9
    assert 0 <= report["firing_rate_mean"] <= 1 and report["per_sample"]["acs"] > 0
    assert report["per_sample"]["evaluations"] == 3 and report["per_sample"]["energy_j"]["loihi2"] > 0
    assert main(["diffusion", "eval", str(run), "--baseline", "noise", "--n", "12", "--tag", "noise"]) == 0
    noise = json.loads((run / "eval" / "noise.json").read_text())
    assert noise["baseline"] == "noise" and noise["n"] == 12 and noise["FD-foldernet"] > 0
    assert stray_results(run) == []


def test_resume_continues_the_same_trajectory(tmp_path: Path) -> None:
    straight = DiffusionTrainer(load_recipe(write_recipe(tmp_path / "a"))).fit()
    rec = load_recipe(write_recipe(tmp_path / "b", steps=2))
    DiffusionTrainer(rec).fit()
    rec4 = load_recipe(write_recipe(tmp_path / "b"))
    resumed = DiffusionTrainer(rec4, resume=True).fit()
    assert resumed["step"] == straight["step"] == 4
    a = load_checkpoint(Path(straight["run_dir"]) / "checkpoints" / "last.pt")["model"]
    b = load_checkpoint(Path(resumed["run_dir"]) / "checkpoints" / "last.pt")["model"]
    for k in a:
        assert torch.allclose(a[k].float(), b[k].float(), atol=1e-6), k


def test_tsm_finetuning_loads_the_sddpm_run_and_learns_p(tmp_path: Path) -> None:
    base = DiffusionTrainer(load_recipe(write_recipe(tmp_path, "base"))).fit()
    path = write_recipe(tmp_path, "tsm", init_from=base["run_dir"], steps=2, lr=0.05)
    raw = yaml.safe_load(path.read_text())
    raw["model"]["tsm"] = True
    path.write_text(yaml.safe_dump(raw))
    DiffusionTrainer(load_recipe(path)).fit()
    _, model, _ = load_diffusion_run(tmp_path / "runs" / "tsm", weights="model")
    ps = [m.p for m in model.modules() if getattr(m, "p", None) is not None]
    assert ps and all(p.shape == (2,) for p in ps)
    assert any(not torch.allclose(p, torch.ones(2)) for p in ps)  # the factors moved from their init
    _, base_model, _ = load_diffusion_run(base["run_dir"])
    keys = [k for k in base_model.state_dict() if k.endswith("conv.weight")]
    assert keys


def test_imagefolder_items_are_unit_range_images_with_class_labels(tmp_path: Path) -> None:
    from snnlab.data import create_dataset

    ds = create_dataset("image_folder", str(write_folder(tmp_path)), "train", image_size=6, channels=1)
    x, y = ds[len(ds) - 1]
    assert x.shape == (1, 6, 6) and x.dtype == torch.float32 and 0 <= float(x.min()) <= float(x.max()) <= 1
    assert ds.classes == ["class0", "class1", "class2"] and y == 2 and ds.num_classes == 3
    rgb = create_dataset("image_folder", str(tmp_path), "train", image_size=4, channels=3, crop=10)
    assert rgb[0][0].shape == (3, 4, 4)


@pytest.mark.parametrize("name", ["fmnist_sddpm", "fmnist_sdm_tsm", "cifar10_sddpm", "cifar10_sdm_tsm"])
def test_shipped_recipes_load(name: str) -> None:
    rec = load_recipe(Path(__file__).resolve().parents[2] / "experiments" / f"{name}.yaml")
    assert rec.diffusion.steps == 1000 and rec.diffusion.beta_1 == 1e-4 and rec.diffusion.beta_T == 0.02
    assert rec.model.get("tsm", False) == ("tsm" in name) and (rec.train.init_from is not None) == ("tsm" in name)
    if name.startswith("cifar10"):
        assert rec.model["ch"] == 128 and rec.model["ch_mult"] == [1, 2, 2, 4] and rec.model["num_res_blocks"] == 2
        assert rec.train.lr == 2e-4 and rec.train.batch_size == 32 and rec.train.grad_clip == 1.0


def test_cifar10_tsm_recipe_builds_the_paper_network_at_t8() -> None:
    from snnlab.models.sddpm import count_parameters
    from snnlab.train.diffusion import build_unet

    rec = load_recipe(Path(__file__).resolve().parents[2] / "experiments" / "cifar10_sdm_tsm.yaml")
    assert count_parameters(build_unet(rec)) == 66_696_413 + 67 * 8
