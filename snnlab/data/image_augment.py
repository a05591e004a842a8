"""Image augmentations on tensors: RandAugment and random erasing (the Max-Former recipes').

Images are ``(C, H, W)`` float tensors in [0, 1] (RandAugment, before normalisation) or
normalised (random erasing, after it). The operations follow their PIL definitions (as timm
applies them), written for tensors:

- Equalize: per channel, on the 256 grey levels, ``lut[i] = (cum[i] + step // 2) // step`` with
  ``cum[i]`` the pixels below level i and ``step = (N - count of the last non-empty level) // 255``
  (identity when ``step`` is 0).
- AutoContrast: per channel ``(x - min) / (max - min)``; Invert ``1 - x``; Posterize keeps the top
  ``bits`` of the 8-bit value; Solarize ``x >= t: 1 - x``; SolarizeAdd ``x < 128/255: x + a``.
- Brightness / Color / Contrast / Sharpness blend with black / the grey image (ITU-R 601-2 luma) /
  the mean grey level / the image smoothed by ``[[1, 1, 1], [1, 5, 1], [1, 1, 1]] / 13`` (borders
  kept): ``out = ref + f (x - ref)``, clipped to [0, 1].
- Rotate (about the centre), ShearX/Y (about the top-left corner, ``x_in = x + s y``),
  TranslateX/Y (``x_in = x + d`` pixels): inverse-mapped bilinear sampling, uncovered pixels
  filled with ``fill`` (the dataset mean, as timm does).

RandAugment (Cubuk et al. 2020; timm's "rand-m9-n1-mstd0.4-inc1"): ``n`` operations drawn
uniformly with replacement, each applied with probability 0.5 at magnitude ``m ~ N(m, mstd)``
clipped to [0, 10]. Magnitude -> argument, sign random where marked (+-): rotate 30 m/10 deg +-,
shear 0.3 m/10 +-, translate 0.45 m/10 of the side +-, enhance factor 1 + 0.9 m/10 +- (increasing
variants), posterize 4 - int(4 m/10) bits, solarize threshold (256 - int(256 m/10))/255, solarize-add
int(110 m/10)/255. ``ops="snn"`` is the official Max-Former CIFAR set (Equalize, Rotate, ShearX,
TranslateXRel, TranslateYRel, from its aa_snn.py); ``ops="timm"`` the full increasing set (ImageNet).

Random erasing (Zhong et al. 2020; timm ``RandomErasing``, mode "const"): with probability ``p``,
up to 10 attempts draw an area fraction U(0.02, 1/3) and a log-uniform aspect ratio in (0.3, 1/0.3);
the first box that fits, ``h = round(sqrt(A r))``, ``w = round(sqrt(A / r))``, is set to 0
(``mode="pixel"``: standard normal values per pixel).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from snnlab.errors import ConfigError, ShapeError

LUMA = (0.299, 0.587, 0.114)
MAX_LEVEL = 10.0


def _grey(img: torch.Tensor) -> torch.Tensor:  # (C, H, W) -> (1, H, W)
    if img.shape[0] == 1:
        return img
    return (img * torch.tensor(LUMA, dtype=img.dtype).view(3, 1, 1)).sum(0, keepdim=True)


def _blend(ref: torch.Tensor, img: torch.Tensor, factor: float) -> torch.Tensor:
    return (ref + factor * (img - ref)).clamp(0.0, 1.0)


def _levels(img: torch.Tensor) -> torch.Tensor:
    return (img * 255.0).round().clamp(0, 255).long()


def equalize(img: torch.Tensor) -> torch.Tensor:
    """PIL ``ImageOps.equalize`` per channel on the 8-bit levels of ``img``."""
    out = []
    for chan in _levels(img):  # (H, W)
        hist = torch.bincount(chan.flatten(), minlength=256)
        last = int(hist[hist.nonzero().max()]) if hist.any() else 0
        step = (int(hist.sum()) - last) // 255
        if step == 0:
            out.append(chan.float() / 255.0)
            continue
        cum = torch.cumsum(hist, 0) - hist  # pixels below each level
        lut = ((cum + step // 2) // step).clamp(max=255)
        out.append(lut[chan].float() / 255.0)
    return torch.stack(out).to(img.dtype)


def autocontrast(img: torch.Tensor) -> torch.Tensor:
    """Stretch every channel to [0, 1] (channels with one level stay as they are)."""
    lo = img.amin(dim=(1, 2), keepdim=True)
    hi = img.amax(dim=(1, 2), keepdim=True)
    span = hi - lo
    return torch.where(span > 0, (img - lo) / span.clamp_min(1e-12), img)


def posterize(img: torch.Tensor, bits: int) -> torch.Tensor:
    """Keep the top ``bits`` bits of every 8-bit value."""
    mask = (0xFF << (8 - int(bits))) & 0xFF
    return (_levels(img) & mask).to(img.dtype) / 255.0


def solarize(img: torch.Tensor, threshold: float) -> torch.Tensor:
    """Invert the values at or above ``threshold`` (in [0, 1]; above 1: identity)."""
    return torch.where(img >= threshold, 1.0 - img, img)


def solarize_add(img: torch.Tensor, add: float, threshold: float = 128 / 255) -> torch.Tensor:
    """Add ``add`` to the values below ``threshold``, clipped to 1."""
    return torch.where(img < threshold, (img + add).clamp(max=1.0), img)


def smooth(img: torch.Tensor) -> torch.Tensor:
    """PIL's SMOOTH filter (3x3, centre 5, others 1, / 13); the one-pixel border is kept."""
    kernel = torch.ones(1, 1, 3, 3, dtype=img.dtype)
    kernel[0, 0, 1, 1] = 5.0
    out = img.clone()
    if img.shape[1] > 2 and img.shape[2] > 2:
        out[:, 1:-1, 1:-1] = F.conv2d(img.unsqueeze(1), kernel / 13.0).squeeze(1)
    return out


ENHANCE: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "brightness": torch.zeros_like,
    "color": lambda img: _grey(img).expand_as(img),
    "contrast": lambda img: torch.full_like(img, float(_levels(_grey(img)).float().mean()) / 255.0),
    "sharpness": smooth,
}


def enhance(img: torch.Tensor, kind: str, factor: float) -> torch.Tensor:
    """PIL ``ImageEnhance``: blend ``img`` with its reference image by ``factor`` (1: identity)."""
    return _blend(ENHANCE[kind](img), img, factor)


def affine(img: torch.Tensor, matrix: Sequence[float], fill: Sequence[float] | float = 0.5) -> torch.Tensor:
    """Inverse-mapped affine warp as PIL's ``Image.transform(AFFINE)``: the output pixel centred at
    ``(x, y)`` (``x = column + 0.5``) samples the input at ``(a x + b y + c, d x + e y + f)``,
    bilinear; uncovered pixels get ``fill``."""
    C, H, W = img.shape
    a, b, c, d, e, f = (float(v) for v in matrix)
    ys, xs = torch.meshgrid(
        torch.arange(H, dtype=img.dtype) + 0.5, torch.arange(W, dtype=img.dtype) + 0.5, indexing="ij"
    )
    x_in, y_in = a * xs + b * ys + c - 0.5, d * xs + e * ys + f - 0.5  # input pixel indices
    grid = torch.stack([2 * x_in / max(W - 1, 1) - 1, 2 * y_in / max(H - 1, 1) - 1], dim=-1).unsqueeze(0)
    inside = (x_in >= -0.5) & (x_in <= W - 0.5) & (y_in >= -0.5) & (y_in <= H - 0.5)
    out = F.grid_sample(img.unsqueeze(0), grid, mode="bilinear", padding_mode="border", align_corners=True)[0]
    fill_t = torch.as_tensor(fill, dtype=img.dtype).reshape(-1, 1, 1).expand(C, 1, 1)
    return torch.where(inside, out, fill_t)


def rotate(img: torch.Tensor, degrees: float, fill: Sequence[float] | float = 0.5) -> torch.Tensor:
    """Rotate counter-clockwise by ``degrees`` about the image centre (as PIL ``Image.rotate``)."""
    H, W = img.shape[1:]
    cx, cy = W / 2, H / 2
    t = math.radians(degrees)
    cos, sin = math.cos(t), math.sin(t)
    # output (x, y) -> input: rotate the offset from the centre by -degrees in image coordinates (y down)
    return affine(img, (cos, -sin, cx - cos * cx + sin * cy, sin, cos, cy - sin * cx - cos * cy), fill)


def _signed(rng: torch.Generator, value: float) -> float:
    return -value if float(torch.rand((), generator=rng)) < 0.5 else value


# name -> (function of (img, level in [0, 10], rng, fill))
def _geometric(kind: str):
    def op(img: torch.Tensor, level: float, rng: torch.Generator, fill) -> torch.Tensor:
        H, W = img.shape[1:]
        if kind == "rotate":
            return rotate(img, _signed(rng, level / MAX_LEVEL * 30.0), fill)
        if kind in ("shear_x", "shear_y"):
            s = _signed(rng, level / MAX_LEVEL * 0.3)
            return affine(img, (1, s, 0, 0, 1, 0) if kind == "shear_x" else (1, 0, 0, s, 1, 0), fill)
        frac = _signed(rng, level / MAX_LEVEL * 0.45)
        if kind == "translate_x":
            return affine(img, (1, 0, frac * W, 0, 1, 0), fill)
        return affine(img, (1, 0, 0, 0, 1, frac * H), fill)

    return op


def _enhancer(kind: str):
    return lambda img, level, rng, fill: enhance(img, kind, 1.0 + _signed(rng, level / MAX_LEVEL * 0.9))


OPS: dict[str, Callable] = {
    "equalize": lambda img, level, rng, fill: equalize(img),
    "autocontrast": lambda img, level, rng, fill: autocontrast(img),
    "invert": lambda img, level, rng, fill: 1.0 - img,
    "posterize": lambda img, level, rng, fill: posterize(img, 4 - int(level / MAX_LEVEL * 4)),
    "solarize": lambda img, level, rng, fill: solarize(img, (256 - int(level / MAX_LEVEL * 256)) / 255.0),
    "solarize_add": lambda img, level, rng, fill: solarize_add(img, int(level / MAX_LEVEL * 110) / 255.0),
    **{k: _enhancer(k) for k in ENHANCE},
    **{k: _geometric(k) for k in ("rotate", "shear_x", "shear_y", "translate_x", "translate_y")},
}
OP_SETS = {
    "snn": ("equalize", "rotate", "shear_x", "translate_x", "translate_y"),
    "timm": (
        "autocontrast",
        "equalize",
        "invert",
        "rotate",
        "posterize",
        "solarize",
        "solarize_add",
        "color",
        "contrast",
        "brightness",
        "sharpness",
        "shear_x",
        "shear_y",
        "translate_x",
        "translate_y",
    ),
}


class RandAugment:
    """RandAugment on a (C, H, W) image in [0, 1] (see the module docstring).

    Args:
        n: operations per image.
        m: mean magnitude in [0, 10].
        mstd: standard deviation of the magnitude noise (0: fixed ``m``).
        ops: "snn" (the official Max-Former CIFAR set), "timm" (full increasing set) or a list of names.
        prob: probability of applying each drawn operation.
        fill: value(s) of uncovered pixels in geometric operations (per channel).
        seed: generator seed.
    """

    def __init__(
        self,
        n: int = 1,
        m: float = 9.0,
        mstd: float = 0.4,
        ops: str | Sequence[str] = "snn",
        prob: float = 0.5,
        fill: Sequence[float] | float = 0.5,
        seed: int | None = None,
    ) -> None:
        names = OP_SETS.get(ops, ops) if isinstance(ops, str) else tuple(ops)
        bad = [o for o in names if o not in OPS]
        if isinstance(names, str) or bad or not names:
            raise ConfigError(
                f"RandAugment: unknown ops {bad or ops!r}; valid: {', '.join(OP_SETS)} or names from {', '.join(OPS)}"
            )
        if n < 0 or not 0.0 <= m <= MAX_LEVEL or mstd < 0 or not 0.0 <= prob <= 1.0:
            raise ConfigError(
                f"RandAugment: need n >= 0, 0 <= m <= 10, mstd >= 0, 0 <= prob <= 1; "
                f"got n={n}, m={m}, mstd={mstd}, prob={prob}"
            )
        self.ops, self.n, self.m, self.mstd, self.prob, self.fill = (
            tuple(names),
            int(n),
            float(m),
            float(mstd),
            prob,
            fill,
        )
        self.generator = torch.Generator()
        self.generator.manual_seed(torch.seed() if seed is None else int(seed))

    def _level(self) -> float:
        level = self.m + self.mstd * float(torch.randn((), generator=self.generator)) if self.mstd > 0 else self.m
        return min(MAX_LEVEL, max(0.0, level))

    def __call__(self, img: torch.Tensor) -> torch.Tensor:  # (C, H, W) in [0, 1]
        if img.dim() != 3:
            raise ShapeError(f"RandAugment expects a (C, H, W) image, got {tuple(img.shape)}")
        rng = self.generator
        for _ in range(self.n):
            name = self.ops[int(torch.randint(len(self.ops), (1,), generator=rng))]
            if float(torch.rand((), generator=rng)) < self.prob:
                img = OPS[name](img, self._level(), rng, self.fill)
        return img


def parse_randaugment(spec: str, **kw) -> RandAugment:
    """timm's config string, e.g. ``"rand-m9-n1-mstd0.4-inc1"`` (``inc`` is implied: the
    magnitude-increasing variants are the only ones here). The op set is the Max-Former CIFAR
    code's ("snn") unless ``ops`` is passed or the string ends in ``-timm`` (the full set)."""
    if str(spec).endswith("-timm"):
        spec, kw = str(spec)[: -len("-timm")], {"ops": "timm", **kw}
    parts = str(spec).split("-")
    if parts[0] != "rand":
        raise ConfigError(f"randaugment: '{spec}' must start with 'rand-' (e.g. rand-m9-n1-mstd0.4-inc1)")
    args: dict[str, float] = {}
    for part in parts[1:]:
        key, num = re.match(r"([a-z]+)([\d.]*)$", part).groups() if re.match(r"([a-z]+)([\d.]*)$", part) else (part, "")
        if key not in ("m", "n", "mstd", "inc") or not num:
            raise ConfigError(
                f"randaugment: bad section '{part}' in '{spec}'; valid: m<float>, n<int>, mstd<float>, inc1"
            )
        args[key] = float(num)
    return RandAugment(n=int(args.get("n", 2)), m=args.get("m", 10.0), mstd=args.get("mstd", 0.0), **kw)


class RandomErasing:
    """Erase one random box of a (C, H, W) tensor with probability ``p`` (see the module docstring).

    Args:
        p: probability of erasing.
        scale: range of the erased area fraction.
        ratio: range of the aspect ratio (sampled log-uniformly).
        mode: "const" (zeros) or "pixel" (standard normal values).
        seed: generator seed.
    """

    def __init__(
        self,
        p: float = 0.25,
        scale: tuple[float, float] = (0.02, 1 / 3),
        ratio: tuple[float, float] = (0.3, 1 / 0.3),
        mode: str = "const",
        seed: int | None = None,
    ) -> None:
        if not 0.0 <= p <= 1.0 or mode not in ("const", "pixel"):
            raise ConfigError(f"RandomErasing: need 0 <= p <= 1 and mode const|pixel, got p={p}, mode={mode!r}")
        self.p, self.scale, self.mode = float(p), scale, mode
        self.log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
        self.generator = torch.Generator()
        self.generator.manual_seed(torch.seed() if seed is None else int(seed))

    def _uniform(self, lo: float, hi: float) -> float:
        return lo + (hi - lo) * float(torch.rand((), generator=self.generator))

    def __call__(self, img: torch.Tensor) -> torch.Tensor:  # (C, H, W)
        if float(torch.rand((), generator=self.generator)) >= self.p:
            return img
        C, H, W = img.shape
        for _ in range(10):
            area = self._uniform(*self.scale) * H * W
            r = math.exp(self._uniform(*self.log_ratio))
            h, w = int(round(math.sqrt(area * r))), int(round(math.sqrt(area / r)))
            if w < W and h < H:
                top = int(torch.randint(0, H - h + 1, (1,), generator=self.generator))
                left = int(torch.randint(0, W - w + 1, (1,), generator=self.generator))
                out = img.clone()
                out[:, top : top + h, left : left + w] = (
                    0.0 if self.mode == "const" else torch.randn(C, h, w, generator=self.generator, dtype=img.dtype)
                )
                return out
        return img


def augment_steps(
    randaugment: str | None, reprob: float, fill: Sequence[float], seed: int | None, erase_mode: str = "const"
) -> tuple[list, list]:
    """The recipe's image augmentation as two lists of transforms: before normalisation
    (RandAugment from its timm string, uncovered pixels = ``fill``) and after it (random erasing)."""
    before = [parse_randaugment(randaugment, fill=fill, seed=None if seed is None else seed + 2)] if randaugment else []
    after = [RandomErasing(reprob, mode=erase_mode, seed=None if seed is None else seed + 3)] if reprob > 0 else []
    return before, after


__all__ = [
    "OPS",
    "OP_SETS",
    "RandAugment",
    "RandomErasing",
    "affine",
    "augment_steps",
    "autocontrast",
    "enhance",
    "equalize",
    "parse_randaugment",
    "posterize",
    "rotate",
    "smooth",
    "solarize",
    "solarize_add",
]
