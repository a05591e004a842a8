"""The recipes shipped with snnlab: ``experiments/*.yaml``, installed as package data.

``snnlab/resources/experiments`` links to the repository's ``experiments/`` folder and is copied
into wheels, so a non-editable install finds the same recipes. A recipe is named by its file
stem (``demo_digits``); :func:`resolve_recipe` takes such a name or a path.
"""

from __future__ import annotations

from pathlib import Path

from snnlab.errors import ConfigError

PACKAGED = Path(__file__).resolve().parents[1] / "resources" / "experiments"


def recipe_dir() -> Path:
    """The folder of the shipped recipes."""
    return PACKAGED


def list_recipes() -> dict[str, Path]:
    """Name -> file of every shipped recipe, sorted by name."""
    if not PACKAGED.is_dir():
        return {}
    return {p.stem: p for p in sorted(PACKAGED.glob("*.yaml"))}


def describe(path: Path) -> str:
    """The first line of the recipe's leading comment (what it is), or ''."""
    try:
        for line in path.read_text(encoding="utf-8").splitlines():
            text = line.strip()
            if text.startswith("#"):
                return text.lstrip("#").strip()
            if text:
                return ""
    except (OSError, UnicodeDecodeError):
        pass
    return ""


def packaged_recipe(name: str) -> Path:
    """The shipped recipe ``name`` (stem, with or without ``.yaml``).

    Raises:
        ConfigError: no shipped recipe of that name (the valid names are listed).
    """
    recipes = list_recipes()
    stem = Path(name).stem if name.endswith((".yaml", ".yml")) else name
    if stem not in recipes:
        raise ConfigError(
            f"no recipe {name!r}: not a file, nor a shipped recipe; valid names: "
            f"{', '.join(recipes) or '(none installed)'} (see snnlab recipes)"
        )
    return recipes[stem]


def resolve_recipe(name_or_path: str | Path) -> Path:
    """A recipe file: ``name_or_path`` when it is a file, else the shipped recipe of that name.

    A path that names a folder or a missing file with a folder part (``my/recipe.yaml``) is left
    to the config loader, which reports it.
    """
    path = Path(name_or_path)
    if path.is_file() or path.is_dir():
        return path
    name = str(name_or_path)
    if "/" in name or "\\" in name:
        shipped = list_recipes().get(path.stem)
        if shipped is not None and path.parent.name == "experiments":
            return shipped  # experiments/<name>.yaml outside a checkout: the installed copy
        return path
    return packaged_recipe(name)
