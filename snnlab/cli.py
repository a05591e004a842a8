"""The ``snnlab`` command: thin; parses arguments and calls the library.

Each subcommand lives in ``snnlab/commands/<name>.py`` and exposes
``register(subparsers) -> argparse.ArgumentParser`` whose parser has ``func`` set by
``set_defaults(func=...)``. Commands are discovered automatically.

Conventions every command follows: actions of a command are sub-subcommands
(``snnlab lsm run CONFIG``), a command that writes a run takes ``--out DIR`` (default
``runs/<name>``), recipes take ``--set key=value`` (repeatable), and ``--debug`` (tracebacks
instead of one-line errors) is accepted before or after the subcommand.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import textwrap

from snnlab.errors import SnnlabError, os_error_message, user_message

EPILOG = textwrap.dedent(
    """\
    examples:
      snnlab demo                                   # train + evaluate on the embedded digits
      snnlab train experiments/shd_lif.yaml --set data.root=datasets/shd
      snnlab eval runs/demo --early-exit
      snnlab simulate runs/demo
      snnlab export runs/demo --to nir
      snnlab report runs/demo --hw loihi2,speck
      snnlab info
    """
)


DEBUG_HELP = "show full tracebacks on errors"


def _accept_debug(parser: argparse.ArgumentParser) -> None:
    """Let ``--debug`` also follow the (sub)subcommand: add it to every nested parser."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in set(action.choices.values()):
                if "--debug" not in sub._option_string_actions:
                    sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
                _accept_debug(sub)


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every discovered subcommand."""
    import snnlab.commands as commands

    parser = argparse.ArgumentParser(
        prog="snnlab",
        description="snnlab: train spiking networks, simulate them event-driven, cost and export them.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"snnlab.commands.{info.name}")
        module.register(sub)
    _accept_debug(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        result = args.func(args)
    except SnnlabError as err:
        if args.debug:
            raise
        print(f"error: {user_message(err)}", file=sys.stderr)
        return 2
    except FileNotFoundError as err:
        if args.debug:
            raise
        print(f"error: file not found: {err.filename or err}", file=sys.stderr)
        return 2
    except OSError as err:  # permission, read-only or full filesystem, a file where a folder goes
        if args.debug:
            raise
        print(f"error: {os_error_message(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
