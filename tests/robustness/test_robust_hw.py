"""Bad hardware profiles through ``snnlab report`` and ``export --to``: exit 2, one line naming file and field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from snnlab.hw.profiles import data_file


def _profile(tmp: Path, edit) -> Path:
    text = data_file("loihi2.yaml").read_text()
    path = tmp / "chip.yaml"
    path.write_text(edit(text))
    return path


def _value(key: str, new: str):
    return lambda text: re.sub(rf"({key}: {{value: )[^,]+", rf"\g<1>{new}", text, count=1)


# profile edit -> substrings of the one error line
PROFILE_CASES = {
    "energy NaN": (_value("synop_j", ".nan"), "energy.synop_j.value", "finite"),
    "energy Inf": (_value("neuron_update_j", ".inf"), "energy.neuron_update_j.value", "finite"),
    "energy -Inf": (_value("spike_routed_j", "-.inf"), "energy.spike_routed_j.value", "finite"),
    "timing NaN": (_value("synop_s", ".nan"), "timing.synop_s.value", "finite"),
    "count NaN": (_value("cores_per_chip", ".nan"), "capacity.cores_per_chip.value", "finite"),
    "count negative": (_value("cores_per_chip", "-4"), "cores_per_chip", "out of range"),
    "energy text": (_value("synop_j", "lots"), "synop_j", "number"),
    "binary file": (lambda text: "\x00\x01binary\xff", "chip.yaml"),
    "invalid YAML": (lambda text: text + "\n  bad: [unclosed\n", "chip.yaml", "not valid YAML"),
    "a list": (lambda text: "- 1\n- 2\n", "chip.yaml", "mapping"),
    "missing energy": (lambda text: re.sub(r"\nenergy:\n(  .*\n)+", "\n", text), "missing field", "energy"),
}


@pytest.mark.parametrize("case", sorted(PROFILE_CASES))
def test_bad_profile_in_report(cli_error, evaluated_run, tmp_path, case):
    import shutil

    edit, *expected = PROFILE_CASES[case]
    run = tmp_path / "run"
    shutil.copytree(evaluated_run, run)
    path = _profile(tmp_path, edit)
    if case == "binary file":
        path.write_bytes(b"\x00\x01binary\xff\xfe")
    line = cli_error(["report", run, "--hw", path], *expected)
    assert "chip.yaml" in line
    assert not (run / "report.html").exists()


def test_nan_profile_in_export(cli_error, evaluated_run, tmp_path):
    path = _profile(tmp_path, _value("synop_j", ".nan"))
    cli_error(
        ["export", evaluated_run / "model.nir", "--to", path, "--out", tmp_path / "chip.json"],
        "chip.yaml",
        "energy.synop_j.value",
        "finite",
    )
