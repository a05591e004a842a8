"""Image augmentations against their definitions; PIL (installed with matplotlib) is the oracle
for the photometric operations and the affine warps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from snnlab.data import image_augment as A
from snnlab.errors import ConfigError

PIL = pytest.importorskip("PIL")
from PIL import Image, ImageEnhance, ImageOps  # noqa: E402


def _img(seed=0, c=3, h=12, w=10):
    g = np.random.default_rng(seed)
    arr = g.integers(0, 256, (h, w, c), dtype=np.uint8)
    return arr, torch.from_numpy(arr).permute(2, 0, 1).float() / 255.0


def _pil(arr):
    return Image.fromarray(arr.squeeze(-1) if arr.shape[-1] == 1 else arr)


def _back(pil_img):
    arr = np.asarray(pil_img, dtype=np.float32) / 255.0
    return torch.from_numpy(arr if arr.ndim == 3 else arr[..., None]).permute(2, 0, 1)


@pytest.mark.parametrize("c", [1, 3])
def test_photometric_ops_equal_pil(c):
    arr, img = _img(c=c)
    arr[0, 0] = 7  # a repeated level keeps equalize away from its identity case
    img = torch.from_numpy(arr).permute(2, 0, 1).float() / 255.0
    pil = _pil(arr)
    cases = [
        (A.equalize(img), ImageOps.equalize(pil)),
        (A.autocontrast(img), ImageOps.autocontrast(pil)),
        (A.posterize(img, 3), ImageOps.posterize(pil, 3)),
        (A.solarize(img, 100 / 255), ImageOps.solarize(pil, 100)),
    ]
    for kind, cls in (
        ("brightness", ImageEnhance.Brightness),
        ("contrast", ImageEnhance.Contrast),
        ("sharpness", ImageEnhance.Sharpness),
        ("color", ImageEnhance.Color),
    ):
        if kind == "color" and c == 1:
            continue
        cases.append((A.enhance(img, kind, 1.6), cls(pil).enhance(1.6)))
        cases.append((A.enhance(img, kind, 0.3), cls(pil).enhance(0.3)))
    for ours, ref in cases:
        torch.testing.assert_close(ours, _back(ref), atol=2.01 / 255, rtol=0)  # PIL rounds to 8 bits on the way


def test_solarize_add_and_invert_by_definition():
    _, img = _img()
    out = A.solarize_add(img, 0.2)
    torch.testing.assert_close(out, torch.where(img < 128 / 255, (img + 0.2).clamp(max=1), img))
    torch.testing.assert_close(A.OPS["invert"](img, 5, torch.Generator(), 0.5), 1 - img)


def test_affine_warps_equal_pil():
    arr, img = _img(c=1, h=16, w=16)
    pil = _pil(arr)
    shifted = A.affine(img, (1, 0, 3, 0, 1, 0), fill=0.0)  # translate: x_in = x + 3
    torch.testing.assert_close(shifted[:, :, :13], img[:, :, 3:])
    assert (shifted[:, :, 13:] == 0).all()
    torch.testing.assert_close(A.rotate(img, 90.0), torch.rot90(img, 1, dims=(1, 2)), atol=1e-5, rtol=0)
    ref = _back(pil.transform(pil.size, Image.AFFINE, (1, 0.25, 0, 0, 1, 0), Image.BILINEAR))
    ours = A.affine(img, (1, 0.25, 0, 0, 1, 0), fill=0.0)
    torch.testing.assert_close(ours[:, :, :8], ref[:, :, :8], atol=1.01 / 255, rtol=0)  # away from the fill edge
    ref = _back(pil.rotate(17.0, Image.BILINEAR))
    inner = (slice(None), slice(4, 12), slice(4, 12))
    torch.testing.assert_close(A.rotate(img, 17.0)[inner], ref[inner], atol=1.01 / 255, rtol=0)


def test_randaugment_magnitudes_and_op_sets():
    assert A.OP_SETS["snn"] == ("equalize", "rotate", "shear_x", "translate_x", "translate_y")
    ra = A.parse_randaugment("rand-m9-n1-mstd0.4-inc1", seed=0)
    assert (ra.n, ra.m, ra.mstd, ra.ops) == (1, 9.0, 0.4, A.OP_SETS["snn"])
    levels = np.array([ra._level() for _ in range(4000)])
    assert abs(levels.mean() - 9.0) < 0.05 and abs(levels.std() - 0.4) < 0.03 and levels.max() <= 10.0
    _, img = _img(h=32, w=32)  # >= 255 pixels per channel: equalize is no identity
    changed = sum(not torch.equal(ra(img), img) for _ in range(400))
    assert 150 < changed < 250  # each drawn op applies with probability 0.5
    fixed = A.RandAugment(n=1, m=10, mstd=0, ops=["rotate"], prob=1.0, seed=1)
    out = fixed(img[:, :10, :10])
    ref = [A.rotate(img[:, :10, :10], s * 30.0) for s in (1, -1)]
    assert any(torch.allclose(out, r) for r in ref)
    with pytest.raises(ConfigError, match="unknown ops"):
        A.RandAugment(ops=["blur"])
    with pytest.raises(ConfigError, match="bad section"):
        A.parse_randaugment("rand-x9")


def test_random_erasing_boxes():
    er = A.RandomErasing(p=1.0, seed=0)
    img = torch.ones(3, 32, 32)
    for _ in range(50):
        out = er(img)
        zero = (out == 0).all(0)
        rows, cols = zero.any(1).nonzero(), zero.any(0).nonzero()
        h, w = len(rows), len(cols)
        assert int(zero.sum()) == h * w and 0.02 * 1024 * 0.5 <= h * w <= 1024 / 3 * 1.3  # one rectangle
        assert (rows.max() - rows.min() + 1) == h and (cols.max() - cols.min() + 1) == w
    never = A.RandomErasing(p=0.0, seed=0)
    assert torch.equal(never(img), img)
    hits = sum(not torch.equal(A.RandomErasing(p=0.25, seed=s)(img), img) for s in range(400))
    assert 70 < hits < 130
