"""``snnlab recipes``: list the recipes shipped with snnlab (name, what it is, file)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``recipes`` subcommand."""
    parser = subparsers.add_parser(
        "recipes",
        help="list the shipped recipes (snnlab train NAME runs one)",
        description="List the recipes installed with snnlab. Train one by name (snnlab train demo_digits) "
        "or copy its file and edit it.",
    )
    parser.add_argument("--path", action="store_true", help="print the file of each recipe as well")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Print one line per recipe."""
    from snnlab.commands._recipes import describe, list_recipes, recipe_dir

    recipes = list_recipes()
    if not recipes:
        print(f"no recipes installed (expected them in {recipe_dir()})")
        return 1
    width = max(len(n) for n in recipes)
    for name, path in recipes.items():
        line = f"{name:<{width}}  {describe(path)}"
        print(line + (f"  [{path}]" if args.path else ""))
    print(f"{len(recipes)} recipes in {recipe_dir().resolve()}; run one with: snnlab train NAME [--set key=value]")
    return 0
