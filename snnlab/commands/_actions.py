"""The shape shared by the study commands (``snnlab lsm``, ``snnlab motion``): ``snnlab NAME ACTION
CONFIG [--set KEY=VALUE ...] [--out DIR]``, one subparser per action."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Callable, Optional


def add_action_command(
    subparsers: argparse._SubParsersAction,
    name: str,
    actions: dict[str, str],
    run: Callable[[argparse.Namespace], int],
    config_help: str,
    set_example: str,
    **parser_kw: Any,
) -> argparse.ArgumentParser:
    """Add ``snnlab NAME`` with one sub-subcommand per entry of ``actions`` (action -> help).

    Every action takes the recipe ``config``, repeatable ``--set KEY=VALUE`` overrides and
    ``--out DIR`` (the run folder, default ``runs/<recipe name>``); ``parser_kw`` (help,
    description, epilog) reaches the command's parser and every action's parser keeps its epilog.
    """
    fmt = argparse.RawDescriptionHelpFormatter
    parser = subparsers.add_parser(name, formatter_class=fmt, **parser_kw)
    sub_parsers = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, text in actions.items():
        sub = sub_parsers.add_parser(
            action, help=text, description=text, epilog=parser_kw.get("epilog"), formatter_class=fmt
        )
        sub.add_argument("config", help=config_help)
        sub.add_argument(
            "--set",
            dest="overrides",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help=f"override a recipe field with a dotted key, e.g. {set_example} (repeatable)",
        )
        sub.add_argument("--out", default=None, metavar="DIR", help="run folder (default runs/<name>)")
        sub.set_defaults(func=run)
    return parser


def run_folder(out: Optional[str], name: str) -> Path:
    """The run folder of an action: ``--out`` or ``runs/<name>``."""
    return Path(out) if out else Path("runs") / name
