"""Synthetic DVS event streams of moving textures, deterministic from a seed.

A movie is a random texture (random phases, amplitude spectrum ``1/f**alpha`` under a
Gaussian envelope of width ``sigma`` cycles/pixel, normalised to zero mean and unit
standard deviation, read as log-intensity times ``contrast``) translated by a saccade-like
random walk: segments of Poisson-distributed duration (mean ``mean_duration`` ms), each
with one direction ``theta_k = 2 pi k / n_directions`` and one speed from ``speeds``
(pixels/ms), constant within the segment. Each 1 ms frame is the texture shifted by the
accumulated sub-pixel displacement (a Fourier phase ramp on the periodic texture, then a
``size`` x ``size`` crop). Direction ``theta`` moves the texture towards ``+x`` (columns)
for ``theta = 0`` and towards ``+y`` (rows, downwards) for ``theta = pi / 2``.

A DVS pixel keeps a reference log-intensity ``r``; at step ``t`` it emits
``n = floor(|L_t - r| / threshold)`` events of polarity ``sign(L_t - r)`` (1 = ON, 0 = OFF)
and moves ``r`` by ``n * threshold`` towards ``L_t``, so the residual accumulates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from snnlab.data.events import EVENT_DTYPE
from snnlab.errors import ConfigError

STEP_US = 1000  # one frame = 1 ms


@dataclass
class MovieConfig:
    """Sizes and statistics of the synthetic movies.

    Attributes:
        size: crop side in pixels (the sensor is ``size`` x ``size``, two polarities).
        n_steps: frames of 1 ms per movie.
        n_directions: directions evenly spaced on the circle.
        speeds: speeds in pixels/ms (geometrically spaced in the recipe).
        mean_duration: mean segment duration in ms (Poisson distributed, at least 1).
        alpha: exponent of the ``1/f**alpha`` amplitude spectrum.
        sigma: width of the Gaussian spectral envelope, cycles/pixel (> 0).
        contrast: standard deviation of the log-intensity.
        threshold: DVS contrast threshold on log-intensity change (> 0).
        label: ``direction`` (n_directions classes) or ``velocity`` (direction x speed).
    """

    size: int = 32
    n_steps: int = 128
    n_directions: int = 8
    speeds: list[float] = field(default_factory=lambda: [0.5, 1.0, 2.0])
    mean_duration: float = 24.0
    alpha: float = 1.0
    sigma: float = 0.2
    contrast: float = 1.0
    threshold: float = 0.15
    label: str = "direction"

    @property
    def n_classes(self) -> int:
        """Number of label classes."""
        return self.n_directions * (len(self.speeds) if self.label == "velocity" else 1)


def check_movie_config(cfg: MovieConfig) -> None:
    """Reject impossible movie settings with a ConfigError naming the field and valid range."""
    for name in ("size", "n_steps"):
        if getattr(cfg, name) < 2:
            raise ConfigError(f"movie.{name} must be an integer >= 2, got {getattr(cfg, name)!r}")
    if cfg.n_directions < 2:
        raise ConfigError(f"movie.n_directions must be >= 2, got {cfg.n_directions!r}")
    if not cfg.speeds or min(cfg.speeds) <= 0:
        raise ConfigError(f"movie.speeds must be a non-empty list of speeds > 0 (pixels/ms), got {cfg.speeds!r}")
    for name in ("sigma", "threshold", "mean_duration", "contrast"):
        if not getattr(cfg, name) > 0:
            raise ConfigError(f"movie.{name} must be > 0, got {getattr(cfg, name)!r}")
    if cfg.label not in ("direction", "velocity"):
        raise ConfigError(f"movie.label must be 'direction' or 'velocity', got {cfg.label!r}")


def random_texture(side: int, alpha: float, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Periodic random-phase texture with a ``1/f**alpha`` spectrum under a Gaussian envelope.

    Args:
        side: texture side in pixels.
        alpha: spectral exponent.
        sigma: envelope width in cycles/pixel (> 0).
        rng: random generator.

    Returns:
        Texture (side, side), zero mean, unit standard deviation.
    """
    if not sigma > 0:
        raise ConfigError(f"sigma (spectral envelope, cycles/pixel) must be > 0, got {sigma!r}")
    f = np.fft.fftfreq(side)
    radius = np.hypot(f[:, None], f[None, :])  # (side, side) cycles/pixel
    amplitude = np.exp(-0.5 * (radius / sigma) ** 2) / np.maximum(radius, 1.0 / side) ** alpha
    amplitude[0, 0] = 0.0
    phase = np.exp(2j * np.pi * rng.random((side, side)))
    texture = np.fft.ifft2(amplitude * phase).real
    return (texture - texture.mean()) / (texture.std() + 1e-12)


def saccade_walk(cfg: MovieConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Piecewise-constant random velocities.

    Returns:
        velocity (T, 2) in pixels/ms as (vx, vy); direction index (T,); speed index (T,).
    """
    directions = np.empty(cfg.n_steps, np.int64)
    speeds = np.empty(cfg.n_steps, np.int64)
    t = 0
    while t < cfg.n_steps:
        length = max(1, int(rng.poisson(cfg.mean_duration)))
        directions[t : t + length] = rng.integers(cfg.n_directions)
        speeds[t : t + length] = rng.integers(len(cfg.speeds))
        t += length
    theta = 2 * np.pi * directions / cfg.n_directions
    speed = np.asarray(cfg.speeds, np.float64)[speeds]
    velocity = np.stack([speed * np.cos(theta), speed * np.sin(theta)], axis=1)  # (T, 2)
    return velocity, directions, speeds


def translate(texture: np.ndarray, displacement: np.ndarray, size: int) -> np.ndarray:
    """Shift a periodic texture by sub-pixel displacements (Fourier phase ramp) and crop.

    Args:
        texture: (S, S) periodic texture.
        displacement: (T, 2) shifts (dx, dy) in pixels; content moves towards +x, +y.
        size: crop side (top-left corner), <= S.

    Returns:
        Frames (T, size, size), indexed [t, y, x].
    """
    side = texture.shape[0]
    f = np.fft.fftfreq(side)
    spectrum = np.fft.fft2(texture)  # (S, S) indexed [fy, fx]
    ramp_x = np.exp(-2j * np.pi * displacement[:, 0, None] * f[None, :])  # (T, S)
    ramp_y = np.exp(-2j * np.pi * displacement[:, 1, None] * f[None, :])  # (T, S)
    shifted = spectrum[None] * ramp_y[:, :, None] * ramp_x[:, None, :]  # (T, S, S)
    return np.fft.ifft2(shifted).real[:, :size, :size]


def dvs_events(log_frames: np.ndarray, threshold: float) -> np.ndarray:
    """Thresholded temporal change of log-intensity with residual accumulation.

    Args:
        log_frames: (T, H, W) log-intensity, one frame per ms.
        threshold: contrast threshold (> 0).

    Returns:
        Events (N,) of dtype EVENT_DTYPE, time-sorted; the n events of one pixel and
        step are spread evenly inside that millisecond.
    """
    if not threshold > 0:
        raise ConfigError(f"threshold (DVS contrast threshold) must be > 0, got {threshold!r}")
    reference = log_frames[0].copy()  # (H, W)
    chunks = []
    for step in range(1, log_frames.shape[0]):
        diff = log_frames[step] - reference
        count = np.floor(np.abs(diff) / threshold).astype(np.int64)  # (H, W)
        reference += np.sign(diff) * count * threshold
        y, x = np.nonzero(count)
        n = count[y, x]
        rank = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)  # k-th event of its pixel
        ev = np.empty(n.sum(), EVENT_DTYPE)
        ev["t"] = step * STEP_US + rank * STEP_US // np.repeat(n, n)
        ev["x"], ev["y"] = np.repeat(x, n), np.repeat(y, n)
        ev["p"] = np.repeat(diff[y, x] > 0, n)
        chunks.append(ev[np.argsort(ev["t"], kind="stable")])
    return np.concatenate(chunks) if chunks else np.empty(0, EVENT_DTYPE)


def movie_from_texture(texture: np.ndarray, velocity: np.ndarray, cfg: MovieConfig) -> np.ndarray:
    """Events of a texture moved with per-step velocities (T, 2) pixels/ms; see :func:`dvs_events`."""
    displacement = np.cumsum(velocity, axis=0) - velocity[0]  # frame 0 unshifted
    frames = translate(texture, displacement, cfg.size)  # (T, H, W)
    return dvs_events(cfg.contrast * frames, cfg.threshold)


def generate_movie(cfg: MovieConfig, seed: int | tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic DVS movie.

    Args:
        cfg: movie settings.
        seed: integer or tuple of integers; equal seeds give equal movies.

    Returns:
        events (N,) of EVENT_DTYPE on a ``(size, size, 2)`` sensor, and labels (T,) int64:
        the direction index, or ``direction * len(speeds) + speed`` for ``label='velocity'``.
    """
    check_movie_config(cfg)
    rng = np.random.default_rng(seed)
    texture = random_texture(2 * cfg.size, cfg.alpha, cfg.sigma, rng)
    velocity, directions, speeds = saccade_walk(cfg, rng)
    labels = directions * len(cfg.speeds) + speeds if cfg.label == "velocity" else directions
    return movie_from_texture(texture, velocity, cfg), labels


def dense_movie(events: np.ndarray, cfg: MovieConfig) -> np.ndarray:
    """Binary voxels A[p, t, y, x] (2, T, size, size), uint8: 1 where any event fell in that ms.

    Binning goes through :class:`snnlab.data.transforms.ToFrame` with 1 ms windows.
    """
    from snnlab.data.transforms import ToFrame

    frames = ToFrame((cfg.size, cfg.size, 2), time_window=STEP_US, duration=cfg.n_steps * STEP_US)(events)
    return np.ascontiguousarray((frames > 0).astype(np.uint8).transpose(1, 0, 2, 3))  # (P, T, H, W)


def generate_dataset(cfg: MovieConfig, n_movies: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n_movies`` movies as dense voxels (N, 2, T, H, W) uint8 and labels (N, T) int64.

    Movie ``i`` uses seed ``(seed, i)``, so a dataset is the same whatever its length.
    """
    if n_movies < 1:
        raise ConfigError(f"number of movies must be >= 1, got {n_movies!r}")
    voxels, labels = [], []
    for i in range(n_movies):
        events, label = generate_movie(cfg, (seed, i))
        voxels.append(dense_movie(events, cfg))
        labels.append(label)
    return np.stack(voxels), np.stack(labels)
