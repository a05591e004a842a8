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
import os
import pkgutil
import sys
import textwrap
from typing import Any, NoReturn

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


class UsageError(SystemExit):
    """Raised by :meth:`Parser.error` after printing its line; exit status 2 (argparse's)."""


class Parser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose errors are one line, like every other snnlab error.

    ``snnlab simulate RUN --steps abc`` prints
    ``snnlab simulate: error: argument --steps: invalid int value: 'abc' (see snnlab simulate --help)``
    instead of the usage block plus the message. Subparsers inherit the class (``add_subparsers``
    uses the parent's class), so every command and action gets it.
    """

    def error(self, message: str) -> NoReturn:
        text = " ".join(message.split())  # argparse messages are one line; make sure
        self._print_message(f"{self.prog}: error: {text} (see {self.prog} --help)\n", sys.stderr)
        raise UsageError(2)

    def parse_args(self, args: Any = None, namespace: Any = None) -> argparse.Namespace:  # type: ignore[override]
        """As argparse, but an unknown option is reported by the (sub)command it was given to."""
        parsed, extra = self.parse_known_args(args, namespace)
        if extra:
            self._chosen(parsed).error(f"unrecognized arguments: {' '.join(extra)}")
        return parsed

    def _chosen(self, parsed: argparse.Namespace) -> argparse.ArgumentParser:
        """The innermost subparser the parsed arguments selected (``self`` when none)."""
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                sub = action.choices.get(getattr(parsed, action.dest, None) or "")
                if isinstance(sub, Parser):
                    return sub._chosen(parsed)
        return self


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

    parser = Parser(
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
    try:
        args = parser.parse_args(argv)
    except UsageError as err:  # the line is printed; --help and --version still exit as argparse does
        return int(err.code)
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
    code = main()
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # a torchrun worker (snnlab train --nproc-per-node N)
        from snnlab.train.distributed import worker_exit

        worker_exit(code)
    sys.exit(code)
