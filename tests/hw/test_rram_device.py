"""Device model: distributions, differential pairs, noise, drift, faults, crossbar, energy, errors."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from snnlab.errors import ProfileError
from snnlab.hw import rram


@pytest.fixture
def device() -> rram.RRAMDevice:
    """The nominal device of the rram_40nm profile."""
    return rram.load_macro("rram_40nm").device


@pytest.fixture
def macro() -> rram.RRAMMacro:
    """The rram_40nm macro."""
    return rram.load_macro("rram_40nm")


@pytest.mark.parametrize("distribution", rram.DISTRIBUTIONS)
def test_sampled_conductances_match_profile(device, distribution):
    dev = replace(device, distribution=distribution)
    g = rram.sample_conductances(dev, (400, 500), np.random.default_rng(0))
    n = g.size
    assert g.min() >= dev.g_min_us and g.max() <= dev.g_max_us
    assert abs(g.mean() - dev.g_mean_us) < 5 * dev.g_std_us / math.sqrt(n)
    assert abs(g.std() - dev.g_std_us) < 0.01 * dev.g_std_us  # sampling error of a std ~ 1/sqrt(2n)


def test_profile_numbers_are_loaded(macro):
    assert (macro.rows, macro.cols, macro.v_read) == (512, 512, 0.2)
    assert macro.device.levels == 16 and macro.digital_baseline["e_ac_pj"] == 0.9


def test_program_quantise_round_trip_within_half_level(device):
    w = np.random.default_rng(1).normal(0, 0.3, (64, 32))
    gp, gm, scale = rram.program_weights(device, w)
    step = device.g_range_us / (device.levels - 1)
    assert np.abs(scale * (gp - gm) - w).max() <= scale * step / 2 + 1e-12
    assert gp.min() >= device.g_min_us and gp.max() <= device.g_max_us + 1e-9
    assert np.all((gp == device.g_min_us) | (gm == device.g_min_us))  # one cell of a pair stays off
    levels = np.unique(np.round((np.concatenate([gp, gm]) - device.g_min_us) / step, 9))
    assert np.allclose(levels, np.round(levels)) and levels.size <= device.levels


def test_read_noise_relative_std(device):
    g = np.full((200, 200), 80.0)
    reads = rram.read(device, g, np.random.default_rng(2))
    assert abs(reads.std() / 80.0 - device.read_noise) < 0.03 * device.read_noise
    assert rram.read(device, g, None) is g  # no generator, no noise


def test_drift_is_monotone_and_starts_at_t0(device):
    dev = replace(device, drift_nu=0.05)
    g = np.array([10.0, 60.0, 140.0])
    assert np.array_equal(rram.drift(dev, g, 0.5 * dev.drift_t0_s), g)
    values = [rram.drift(dev, g, t) for t in (1.0, 10.0, 1e3, 1e6)]
    assert all(np.all(b <= a) for a, b in zip(values, values[1:]))
    assert np.allclose(values[1], g * 10.0**-0.05)
    with pytest.raises(ValueError):
        rram.drift(dev, g, -1.0)


def test_stuck_at_fractions(device):
    dev = replace(device, stuck_at_hrs=0.1, stuck_at_lrs=0.05)
    g = rram.sample_conductances(dev, (300, 300), np.random.default_rng(3))
    n = g.size
    for value, p in ((dev.g_min_us, 0.1), (dev.g_max_us, 0.05)):
        frac = float(np.mean(g == value))
        assert abs(frac - p) < 5 * math.sqrt(p * (1 - p) / n)


def test_crossbar_mvm_is_ohm_and_kirchhoff(macro):
    rng = np.random.default_rng(4)
    gp, gm = rng.uniform(1, 100, (6, 3)), rng.uniform(1, 100, (6, 3))
    x = (rng.random((5, 6)) < 0.5).astype(float)
    exact = rram.crossbar_mvm(macro, x, gp, gm)
    assert np.allclose(exact, x @ (gp - gm) * macro.v_read)
    noisy = rram.crossbar_mvm(macro, x, gp, gm, rng)
    assert not np.allclose(noisy, exact)


def test_read_energy_by_hand(macro):
    gp = np.array([[10.0, 20.0], [30.0, 40.0], [50.0, 60.0]])
    gm = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    rows = np.array([True, False, True])
    g_on_s = (10 + 20 + 1 + 2 + 50 + 60 + 5 + 6) * 1e-6
    cells = macro.v_read**2 * g_on_s * macro.t_read_ns * 1e-9 * 1e12
    expected = cells + 2 * macro.driver_pj_per_row + 4 * macro.adc_pj_per_col
    assert rram.read_energy_pj(macro, rows, gp, gm) == pytest.approx(expected)


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"g_min_us": -1.0}, "negative"),
        ({"levels": 1}, "levels"),
        ({"stuck_at_hrs": 1.5}, "stuck-at"),
        ({"stuck_at_hrs": 0.6, "stuck_at_lrs": 0.6}, "stuck-at"),
        ({"distribution": "cauchy"}, "normal"),
        ({"read_noise": -0.1}, "read_noise"),
    ],
)
def test_bad_device_values_raise(device, changes, words):
    with pytest.raises(ProfileError, match=words):
        replace(device, **changes)


def test_unknown_profile_and_missing_field(tmp_path):
    with pytest.raises(ProfileError, match="rram_40nm"):
        rram.load_macro("rram_7nm")
    bad = tmp_path / "mine.yaml"
    bad.write_text("rows: 8\ncols: 8\nread: {v_read: 0.2}\n")
    with pytest.raises(ProfileError, match="mine.yaml.*t_read_ns"):
        rram.load_macro(str(bad))


def test_array_larger_than_macro_names_rows_and_cols(macro):
    macro.check_fits(64 + 200, 200)  # N-TIDIGITS reservoir: fits
    with pytest.raises(Exception, match=r"556 rows x 600 columns.*512 x 512"):
        macro.check_fits(556, 300)
