"""Resistive-memory (RRAM) device and crossbar model (numpy only).

A weight is a differential pair of conductances, ``w = scale * (G+ - G-)``. Conductances are
random as the devices form (the LSM uses them as its fixed random weights), or programmed to
``levels`` values between ``g_min`` and ``g_max``. Non-idealities:

- **variability**: formed conductance ~ ``distribution(g_mean, g_std)`` clipped to [g_min, g_max];
- **read noise**: every read multiplies each conductance by ``1 + read_noise * N(0, 1)``;
- **drift**: ``G(t) = G0 * (t / t0) ** -drift_nu`` for ``t > t0``;
- **stuck-at faults**: a fraction of cells stuck at ``g_min`` (HRS) or ``g_max`` (LRS).

A crossbar read drives the rows of active (spiking) inputs at ``v_read`` and senses the column
currents ``I_j = sum_i V_i G_ij`` (Ohm and Kirchhoff). Energy per read: ``V^2 G t_read`` of the
cells on active rows, a driver energy per active row and one ADC conversion per column.

:func:`crossbar_energy` costs a whole run from its activity counts (:class:`CrossbarActivity`)
against a digital accelerator doing the same synaptic operations; the counts are data, collected
by whoever runs the network (the liquid-state machine of :mod:`snnlab.apps.lsm` does).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Optional

import numpy as np
import yaml

from snnlab.errors import MappingError, ProfileError
from snnlab.hw.profiles import data_file, hw_dirs

DISTRIBUTIONS = ("normal", "lognormal", "uniform")


@dataclass(frozen=True)
class RRAMDevice:
    """Device parameters (conductances in microsiemens)."""

    distribution: str = "normal"
    g_mean_us: float = 60.0
    g_std_us: float = 15.0
    g_min_us: float = 0.1
    g_max_us: float = 150.0
    levels: int = 16
    read_noise: float = 0.02
    drift_nu: float = 0.005
    drift_t0_s: float = 1.0
    stuck_at_hrs: float = 0.0
    stuck_at_lrs: float = 0.0

    def __post_init__(self) -> None:
        where = "RRAM device"
        if self.distribution not in DISTRIBUTIONS:
            raise ProfileError(f"{where}: distribution must be one of {DISTRIBUTIONS}, got {self.distribution!r}")
        if not (0 <= self.g_min_us < self.g_max_us):
            raise ProfileError(
                f"{where}: need 0 <= g_min_us < g_max_us (conductance cannot be negative), "
                f"got g_min_us={self.g_min_us}, g_max_us={self.g_max_us}"
            )
        if not (self.g_min_us <= self.g_mean_us <= self.g_max_us) or self.g_std_us < 0:
            raise ProfileError(
                f"{where}: need g_min_us <= g_mean_us <= g_max_us and g_std_us >= 0, "
                f"got mean {self.g_mean_us}, std {self.g_std_us}"
            )
        if not (isinstance(self.levels, int) and self.levels >= 2):
            raise ProfileError(f"{where}: levels must be an integer >= 2, got {self.levels!r}")
        for name in ("read_noise", "drift_nu"):
            if getattr(self, name) < 0:
                raise ProfileError(f"{where}: {name} must be >= 0, got {getattr(self, name)}")
        if self.drift_t0_s <= 0:
            raise ProfileError(f"{where}: drift_t0_s must be > 0, got {self.drift_t0_s}")
        if not (0 <= self.stuck_at_hrs and 0 <= self.stuck_at_lrs and self.stuck_at_hrs + self.stuck_at_lrs <= 1):
            raise ProfileError(
                f"{where}: stuck-at fractions must be >= 0 and sum to <= 1, "
                f"got hrs={self.stuck_at_hrs}, lrs={self.stuck_at_lrs}"
            )

    @property
    def g_range_us(self) -> float:
        """Programmable conductance window ``g_max - g_min`` (uS)."""
        return self.g_max_us - self.g_min_us


@dataclass(frozen=True)
class RRAMMacro:
    """An in-memory-computing macro: array size, read conditions, energies, device."""

    name: str = "rram_40nm"
    rows: int = 512
    cols: int = 512
    v_read: float = 0.2  # V
    t_read_ns: float = 10.0
    driver_pj_per_row: float = 0.15
    adc_pj_per_col: float = 2.0
    device: RRAMDevice = field(default_factory=RRAMDevice)
    digital_baseline: dict[str, float] = field(
        default_factory=lambda: {"e_ac_pj": 0.9, "e_weight_read_pj": 5.0, "e_neuron_update_pj": 4.6}
    )

    def __post_init__(self) -> None:
        for name in ("rows", "cols", "v_read", "t_read_ns"):
            if not getattr(self, name) > 0:
                raise ProfileError(f"RRAM macro {self.name}: {name} must be > 0, got {getattr(self, name)}")
        for name in ("driver_pj_per_row", "adc_pj_per_col"):
            if getattr(self, name) < 0:
                raise ProfileError(f"RRAM macro {self.name}: {name} must be >= 0, got {getattr(self, name)}")

    def with_device(self, **changes: Any) -> RRAMMacro:
        """A copy with some device parameters changed (for variability studies)."""
        return replace(self, device=replace(self.device, **changes))

    def check_fits(self, rows: int, cols: int, what: str = "array") -> None:
        """Raise MappingError when a ``rows x cols`` differential array exceeds the macro."""
        need_cols = 2 * cols  # differential pairs use two columns per weight
        if rows > self.rows or need_cols > self.cols:
            raise MappingError(
                f"{what} needs {rows} rows x {need_cols} columns (differential pairs) but macro "
                f"{self.name} has {self.rows} x {self.cols}: rows {rows}/{self.rows}, "
                f"columns {need_cols}/{self.cols}; reduce the reservoir or inputs"
            )


def load_macro(name_or_path: str = "rram_40nm") -> RRAMMacro:
    """Load an RRAM macro profile (``hw/<name>.yaml`` or a path) with validation."""
    path = Path(name_or_path)
    if not path.suffix:
        try:
            path = data_file(f"{name_or_path}.yaml")
        except ProfileError:
            builtin = sorted(p.stem for d in hw_dirs() for p in d.glob("rram_*.yaml"))
            raise ProfileError(f"RRAM profile {name_or_path!r} not found; built-in: {builtin}") from None
    if not path.is_file():
        raise ProfileError(f"RRAM profile file {path} not found")
    data = yaml.safe_load(path.read_text()) or {}
    try:
        device = RRAMDevice(**data.get("device", {}))
        read, energy = data.get("read", {}), data.get("energy", {})
        return RRAMMacro(
            name=data.get("name", path.stem),
            rows=data["rows"],
            cols=data["cols"],
            v_read=read["v_read"],
            t_read_ns=read["t_read_ns"],
            driver_pj_per_row=energy["driver_pj_per_row"],
            adc_pj_per_col=energy["adc_pj_per_col"],
            device=device,
            digital_baseline=data.get("digital_baseline", {}),
        )
    except KeyError as err:
        raise ProfileError(f"{path.name}: missing field {err.args[0]!r}") from None
    except TypeError as err:
        raise ProfileError(f"{path.name}: {err}") from None


def sample_conductances(device: RRAMDevice, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Formed (random) conductances in uS, with stuck-at faults applied."""
    if device.distribution == "normal":
        g = rng.normal(device.g_mean_us, device.g_std_us, shape)
    elif device.distribution == "lognormal":
        sigma2 = math.log(1.0 + (device.g_std_us / device.g_mean_us) ** 2)
        g = rng.lognormal(math.log(device.g_mean_us) - sigma2 / 2, math.sqrt(sigma2), shape)
    else:
        half = device.g_std_us * math.sqrt(3.0)
        g = rng.uniform(device.g_mean_us - half, device.g_mean_us + half, shape)
    g = np.clip(g, device.g_min_us, device.g_max_us)
    return apply_stuck_at(device, g, rng)


def apply_stuck_at(device: RRAMDevice, g: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Set a random fraction of cells to g_min (HRS) and g_max (LRS)."""
    u = rng.random(g.shape)
    g = np.where(u < device.stuck_at_hrs, device.g_min_us, g)
    return np.where((u >= device.stuck_at_hrs) & (u < device.stuck_at_hrs + device.stuck_at_lrs), device.g_max_us, g)


def quantize_conductances(device: RRAMDevice, g: np.ndarray) -> np.ndarray:
    """Round conductances to the nearest of ``levels`` equally spaced programmable values."""
    step = device.g_range_us / (device.levels - 1)
    idx = np.clip(np.round((g - device.g_min_us) / step), 0, device.levels - 1)
    return device.g_min_us + idx * step


def program_weights(device: RRAMDevice, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Map real weights to quantised differential pairs; returns ``(g_plus, g_minus, scale)``.

    ``w ~= scale * (g_plus - g_minus)`` with the largest |w| at the full conductance range.
    """
    w = np.asarray(w, dtype=np.float64)
    w_max = float(np.abs(w).max()) or 1.0
    scale = w_max / device.g_range_us
    mag = device.g_min_us + np.abs(w) / scale
    g_plus = quantize_conductances(device, np.where(w > 0, mag, device.g_min_us))
    g_minus = quantize_conductances(device, np.where(w < 0, mag, device.g_min_us))
    return g_plus, g_minus, scale


def drift(device: RRAMDevice, g: np.ndarray, t_s: float) -> np.ndarray:
    """Conductance after ``t_s`` seconds of power-law drift (none before ``t0``)."""
    if t_s < 0:
        raise ValueError(f"drift: time must be >= 0 s, got {t_s}")
    factor = (max(t_s, device.drift_t0_s) / device.drift_t0_s) ** (-device.drift_nu)
    return np.clip(g * factor, device.g_min_us, device.g_max_us)


def read(device: RRAMDevice, g: np.ndarray, rng: Optional[np.random.Generator]) -> np.ndarray:
    """One noisy read of conductances (no noise when ``rng`` is None or read_noise is 0)."""
    if rng is None or device.read_noise == 0:
        return g
    return g * (1.0 + device.read_noise * rng.standard_normal(g.shape))


def crossbar_mvm(
    macro: RRAMMacro, x: np.ndarray, g_plus: np.ndarray, g_minus: np.ndarray, rng: Optional[np.random.Generator] = None
) -> np.ndarray:
    """Column currents in uA for row inputs ``x (B, rows)`` in [0, 1] (fraction of ``v_read``).

    Returns ``(B, cols)`` = ``v_read * x @ (G+ - G-)`` with one noisy read per call.
    """
    gp, gm = read(macro.device, g_plus, rng), read(macro.device, g_minus, rng)
    return macro.v_read * (np.asarray(x, dtype=np.float64) @ (gp - gm))


def read_energy_pj(macro: RRAMMacro, active_rows: np.ndarray, g_plus: np.ndarray, g_minus: np.ndarray) -> float:
    """Energy of one read with ``active_rows`` (bool, rows) driven: cells + drivers + ADCs."""
    rows = np.asarray(active_rows, dtype=bool)
    g_on = float(g_plus[rows].sum() + g_minus[rows].sum()) * 1e-6  # S
    cell_pj = macro.v_read**2 * g_on * macro.t_read_ns * 1e-9 * 1e12
    return cell_pj + macro.driver_pj_per_row * int(rows.sum()) + macro.adc_pj_per_col * 2 * g_plus.shape[1]


@dataclass
class CrossbarActivity:
    """Activity counts of a run on one ``rows x 2n`` differential array (summed over samples).

    Attributes:
        samples_steps: (sample, step) pairs simulated; each updates every one of the ``n`` neurons.
        active_rows: driven rows summed over (sample, step): input events plus fed-back spikes.
        row_conductance_us: conductance on the driven rows summed over (sample, step), uS.
        reads: (sample, step) pairs with at least one driven row: one read of all ``2n`` columns.
    """

    samples_steps: int = 0
    active_rows: float = 0.0
    row_conductance_us: float = 0.0
    reads: int = 0


def crossbar_energy(macro: RRAMMacro, activity: CrossbarActivity, n_neurons: int, samples: int) -> dict[str, float]:
    """Energy per inference (pJ) of a run on the macro and on the digital baseline, by component.

    The macro drives every active row (``V^2 G t_read`` in its cells plus one driver each) and
    converts all ``2 n`` columns once per read; the digital baseline does one accumulate and
    one weight fetch per synaptic operation (active row x neuron). Neuron updates (``n`` per
    step) are digital in both.

    Args:
        macro: the RRAM macro (read conditions, energies, digital baseline).
        activity: counts of the run.
        n_neurons: neurons ``n`` fed by every row.
        samples: inferences the counts cover.
    """
    base, per = macro.digital_baseline, 1.0 / max(samples, 1)
    synops = activity.active_rows * n_neurons  # each active row feeds every neuron
    parts = {
        "rram_cells_pj": macro.v_read**2 * activity.row_conductance_us * macro.t_read_ns * 1e-3 * per,  # uS*ns -> pJ
        "rram_drivers_pj": macro.driver_pj_per_row * activity.active_rows * per,
        "rram_adcs_pj": macro.adc_pj_per_col * 2 * n_neurons * activity.reads * per,
        "neuron_updates_pj": activity.samples_steps * n_neurons * base["e_neuron_update_pj"] * per,
        "digital_acs_pj": synops * base["e_ac_pj"] * per,
        "digital_weight_reads_pj": synops * base["e_weight_read_pj"] * per,
    }
    crossbar = parts["rram_cells_pj"] + parts["rram_drivers_pj"] + parts["rram_adcs_pj"]
    rram_total = crossbar + parts["neuron_updates_pj"]
    digital = parts["digital_acs_pj"] + parts["digital_weight_reads_pj"] + parts["neuron_updates_pj"]
    return {
        **parts,
        "rram_crossbar_pj": crossbar,
        "rram_total_pj": rram_total,
        "digital_pj": digital,
        "synaptic_ops": synops * per,
        "efficiency_gain": digital / max(rram_total, 1e-12),
        "synaptic_gain": (digital - parts["neuron_updates_pj"]) / max(crossbar, 1e-12),
    }
