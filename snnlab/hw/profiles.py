"""Hardware profiles: chip cost models stored as YAML data, validated by a JSON schema.

A profile lists a chip's capacity (neurons, synapses, fan-in/out per core, weight bits...),
its energies (per synaptic operation, per neuron update, per spike routed, static power), its
timing model and its features. Every number is a quantity ``{value, source, year}`` or
``{value, assumption: true, note}``, so each figure says where it came from.

Built-in profiles live in the repository's ``hw/`` folder (``loihi``, ``loihi2``,
``truenorth``, ``spinnaker2``, ``speck``, ``xylo_audio2``, ``odin``, ``cmos45``, ``gpu``); a user
profile is any YAML file following ``hw/profile.schema.json``.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from snnlab.errors import ProfileError, one_line

_ENV_DIR = "SNNLAB_HW_DIR"


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e9`` / ``1.0e9`` as floats (YAML 1.1 wants ``1.0e+9``)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def hw_dirs() -> list[Path]:
    """Folders searched for built-in profiles and schemas, in order."""
    dirs = []
    if os.environ.get(_ENV_DIR):
        dirs.append(Path(os.environ[_ENV_DIR]))
    package = Path(__file__).resolve().parent
    dirs.append(package.parents[1] / "hw")  # source checkout: <repo>/hw
    dirs.append(package.parent / "resources" / "hw")  # package data (a link to <repo>/hw, copied into wheels)
    unique: dict[Path, Path] = {}
    for d in dirs:
        if d.is_dir():
            unique.setdefault(d.resolve(), d)
    return list(unique.values())


def data_file(name: str) -> Path:
    """Path of a file shipped in the hw folder (a schema or a profile)."""
    for folder in hw_dirs():
        if (folder / name).is_file():
            return folder / name
    raise ProfileError(f"hw data file {name!r} not found; searched {[str(d) for d in hw_dirs()]}")


def available_profiles() -> list[str]:
    """Names of the built-in chip profiles (RRAM macro profiles ``rram_*`` are device models, not chips)."""
    names: set[str] = set()
    for folder in hw_dirs():
        names.update(p.stem for p in folder.glob("*.yaml") if not p.stem.startswith("rram_"))
    return sorted(names)


@cache
def load_schema(name: str = "profile.schema.json") -> dict[str, Any]:
    """The JSON schema ``name`` from the hw folder."""
    return json.loads(data_file(name).read_text())


@dataclass(frozen=True)
class HardwareProfile:
    """A validated chip profile; numeric sections hold plain values, ``raw`` the full record."""

    name: str
    title: str
    kind: str
    capacity: dict[str, float]
    energy: dict[str, float]
    timing: dict[str, float]
    features: dict[str, Any]
    core_types: list[dict[str, float]] = field(default_factory=list)
    execution: str = "parallel"  # "parallel": cores work concurrently; "sequential": layers in turn
    path: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def total_cores(self) -> int:
        """Cores available over all chips."""
        if self.core_types:
            per_chip = sum(int(c["count"]) for c in self.core_types)
        else:
            per_chip = int(self.capacity["cores_per_chip"])
        return per_chip * int(self.capacity["chips"])

    def core_capacities(self) -> list[tuple[float, float]]:
        """(neurons, synapses) capacity of every core, in core-id order."""
        if self.core_types:
            chip = [(c["neurons"], c["synapses"]) for c in self.core_types for _ in range(int(c["count"]))]
        else:
            cap = (self.capacity["neurons_per_core"], self.capacity["synapses_per_core"])
            chip = [cap] * int(self.capacity["cores_per_chip"])
        return chip * int(self.capacity["chips"])

    def supports(self, neuron_type: str) -> bool:
        """Whether the chip implements the NIR neuron node type ``neuron_type``."""
        return neuron_type in self.features["neuron_types"]

    def source(self, section: str, key: str) -> str:
        """Human-readable provenance of one number: reference and year, or the assumption note."""
        item = self.raw[section][key]
        if item.get("assumption"):
            return f"assumption: {item.get('note', '')}"
        ref = self.raw.get("references", {}).get(item["source"], item["source"])
        return f"{ref} ({item['year']})"

    def assumptions(self) -> list[str]:
        """Every field labelled as an assumption, as ``section.key``."""
        out = []
        for section in ("capacity", "energy", "timing", "reference_values"):
            for key, item in self.raw.get(section, {}).items():
                if isinstance(item, dict) and item.get("assumption"):
                    out.append(f"{section}.{key}")
        return out


def _field_path(error: Any) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "<top level>"


def _describe(error: Any, where: str) -> str:
    """One line for one jsonschema error: the field, what is wrong, what is valid."""
    path = _field_path(error)
    kind = error.validator
    if kind == "required":
        missing = error.message.split("'")[1]
        prefix = f"{path}." if error.absolute_path else ""
        return f"{where}: missing field '{prefix}{missing}'"
    if kind == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        return f"{where}: unknown key {extra} in '{path}'; valid keys: {allowed}"
    if kind in ("minimum", "maximum", "exclusiveMinimum"):
        bounds = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">"}[kind]
        return f"{where}: field '{path}' = {error.instance!r} is out of range; valid: {bounds} {error.validator_value}"
    if kind == "anyOf" and isinstance(error.instance, dict):
        return f"{where}: field '{path}' needs 'source' and 'year', or 'assumption: true' and a 'note'"
    if kind == "enum":
        return f"{where}: field '{path}' = {error.instance!r}; valid: {error.validator_value}"
    return f"{where}: field '{path}': {error.message}"


def validate(data: Any, where: str, schema: str = "profile.schema.json") -> None:
    """Validate ``data`` against a schema of the hw folder; ProfileError names the first problem."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(load_schema(schema))
    errors = sorted(validator.iter_errors(data), key=lambda e: (len(e.absolute_path), _field_path(e)))
    if errors:
        raise ProfileError(_describe(errors[0], where))


def _check_references(data: dict[str, Any], where: str) -> None:
    refs = data["references"]
    for section in ("capacity", "energy", "timing", "reference_values"):
        for key, item in data.get(section, {}).items():
            if isinstance(item, dict) and "source" in item and item["source"] not in refs:
                raise ProfileError(
                    f"{where}: field '{section}.{key}.source' = {item['source']!r} is not a key of "
                    f"'references'; valid: {sorted(refs)}"
                )


def _values(section: dict[str, Any]) -> dict[str, float]:
    return {k: float(v["value"]) for k, v in section.items() if isinstance(v, dict)}


def _check_finite(data: Any, where: str, path: str = "") -> None:
    """Every number of the profile is finite (a NaN passes any ``minimum`` of the schema)."""
    if isinstance(data, dict):
        for key, value in data.items():
            _check_finite(value, where, f"{path}.{key}" if path else str(key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            _check_finite(value, where, f"{path}.{i}")
    elif isinstance(data, float) and not math.isfinite(data):
        raise ProfileError(f"{where}: field '{path}' = {data!r}; valid: a finite number")


def profile_from_dict(data: Any, where: str = "<profile>") -> HardwareProfile:
    """Validate a profile record and build a :class:`HardwareProfile`."""
    _check_finite(data, where)
    validate(data, where)
    _check_references(data, where)
    return HardwareProfile(
        name=data["name"],
        title=data["title"],
        kind=data["kind"],
        capacity=_values(data["capacity"]),
        energy=_values(data["energy"]),
        timing=_values(data["timing"]),
        features=dict(data["features"]),
        core_types=[dict(c) for c in data.get("core_types", [])],
        execution=data["timing"].get("layer_execution", "parallel"),
        path=where,
        raw=data,
    )


def _resolve(name_or_path: str | Path) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.is_file():
        if not candidate.is_file():
            raise ProfileError(f"hardware profile file {str(candidate)!r} does not exist")
        return candidate
    for folder in hw_dirs():
        path = folder / f"{name_or_path}.yaml"
        if path.is_file():
            return path
    raise ProfileError(
        f"unknown hardware profile {str(name_or_path)!r}; built-in: {available_profiles()} or a .yaml path"
    )


def load_profile(name_or_path: str | Path | HardwareProfile) -> HardwareProfile:
    """Load a built-in profile by name or a user profile from a YAML file.

    Args:
        name_or_path: a built-in name (``"loihi2"``), a path to a YAML file, or a profile.

    Returns:
        The validated profile.

    Raises:
        ProfileError: unknown name, unreadable YAML, missing field, unknown key or a value out of
            its valid range; the message names the file and the field.
    """
    if isinstance(name_or_path, HardwareProfile):
        return name_or_path
    path = _resolve(name_or_path)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 (safe loader subclass)
    except UnicodeDecodeError:
        raise ProfileError(
            f"{path}: not a text file (binary bytes); valid: a YAML profile following hw/profile.schema.json"
        ) from None
    except yaml.YAMLError as err:
        raise ProfileError(f"{path}: not valid YAML: {one_line(err)}") from None
    if not isinstance(data, dict):
        raise ProfileError(
            f"{path}: a profile is a mapping with keys name, title, kind, references, capacity, energy, timing, features"
        )
    return profile_from_dict(data, str(path))
