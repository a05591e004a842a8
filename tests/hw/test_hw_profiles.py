"""Profiles: every built-in one validates, carries sources, and bad profiles fail clearly."""

from __future__ import annotations

import copy

import pytest
import yaml

from snnlab.errors import ProfileError
from snnlab.hw import available_profiles, load_profile
from snnlab.hw.profiles import data_file

BUILT_IN = ["loihi", "loihi2", "truenorth", "spinnaker2", "speck", "xylo_audio2", "odin", "cmos45", "gpu"]


def test_all_required_profiles_exist():
    assert set(BUILT_IN) <= set(available_profiles())


@pytest.mark.parametrize("name", BUILT_IN)
def test_profile_loads_and_every_number_has_provenance(name):
    profile = load_profile(name)
    for section in ("capacity", "energy", "timing"):
        for key, item in profile.raw[section].items():
            if isinstance(item, dict):
                assert ("source" in item and "year" in item) or item.get("assumption") is True, (
                    f"{name}.{section}.{key}"
                )
                assert profile.source(section, key)
    assert profile.total_cores == len(profile.core_capacities()) >= 1


def test_published_numbers():
    assert load_profile("loihi").energy["synop_j"] == pytest.approx(23.6e-12)
    assert load_profile("loihi").energy["neuron_update_j"] == pytest.approx(81e-12)
    assert load_profile("truenorth").energy["synop_j"] == pytest.approx(26e-12)
    assert load_profile("odin").energy["synop_j"] == pytest.approx(12.7e-12)
    speck = load_profile("speck")
    assert sum(n for n, _ in speck.core_capacities()) == 327680  # ~0.32M neurons (Yao 2024)
    cmos = load_profile("cmos45")
    ref = cmos.raw["reference_values"]
    assert cmos.energy["mac_j"] == pytest.approx(ref["fp32_mult_j"]["value"] + ref["fp32_add_j"]["value"])
    assert cmos.energy["synop_j"] == pytest.approx(ref["fp32_add_j"]["value"])


def _write(tmp_path, data):
    path = tmp_path / "chip.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def loihi_raw():
    return copy.deepcopy(yaml.safe_load(data_file("loihi.yaml").read_text()))


def test_user_profile_round_trip(tmp_path, loihi_raw):
    loihi_raw["name"] = "mychip"
    assert load_profile(_write(tmp_path, loihi_raw)).name == "mychip"


def test_missing_field(tmp_path, loihi_raw):
    del loihi_raw["energy"]["synop_j"]
    with pytest.raises(ProfileError, match=r"chip.yaml: missing field 'energy.synop_j'"):
        load_profile(_write(tmp_path, loihi_raw))


def test_negative_energy(tmp_path, loihi_raw):
    loihi_raw["energy"]["neuron_update_j"]["value"] = -1e-12
    with pytest.raises(ProfileError, match=r"'energy.neuron_update_j.value' = -1e-12 is out of range; valid: >= 0"):
        load_profile(_write(tmp_path, loihi_raw))


def test_unknown_key(tmp_path, loihi_raw):
    loihi_raw["energy"]["bogus_j"] = {"value": 1.0, "assumption": True, "note": "x"}
    with pytest.raises(ProfileError, match=r"unknown key \['bogus_j'\] in 'energy'; valid keys: \["):
        load_profile(_write(tmp_path, loihi_raw))


def test_number_without_source(tmp_path, loihi_raw):
    loihi_raw["capacity"]["fan_in"] = {"value": 10}
    with pytest.raises(ProfileError, match=r"'capacity.fan_in' needs 'source' and 'year'"):
        load_profile(_write(tmp_path, loihi_raw))


def test_unknown_reference_and_bad_bits(tmp_path, loihi_raw):
    bad = copy.deepcopy(loihi_raw)
    bad["capacity"]["fan_in"]["source"] = "nobody2020"
    with pytest.raises(ProfileError, match="is not a key of 'references'"):
        load_profile(_write(tmp_path, bad))
    loihi_raw["capacity"]["weight_bits"]["value"] = 0
    with pytest.raises(ProfileError, match=r"weight_bits.value' = 0 is out of range; valid: >= 1"):
        load_profile(_write(tmp_path, loihi_raw))


def test_unknown_name_lists_valid():
    with pytest.raises(ProfileError, match="built-in: .*loihi2"):
        load_profile("loihi9")


def test_profiles_ship_as_package_data():
    """``snnlab/resources/hw`` (package data, copied into wheels) holds the same files as ``hw/``."""
    from pathlib import Path

    import snnlab
    from snnlab.hw import profiles

    shipped = Path(snnlab.__file__).parent / "resources" / "hw"
    assert (shipped / "profile.schema.json").is_file() and (shipped / "loihi2.yaml").is_file()
    repo = Path(snnlab.__file__).parents[1] / "hw"
    if repo.is_dir():
        assert sorted(p.name for p in shipped.iterdir()) == sorted(p.name for p in repo.iterdir())
    dirs = [d.resolve() for d in profiles.hw_dirs()]
    assert len(dirs) == len(set(dirs))
