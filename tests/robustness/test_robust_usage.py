"""argparse's own errors (a bad int, an unknown option, a missing argument) are one line too.

The line is ``snnlab <cmd>: error: <what> (see snnlab <cmd> --help)`` and the exit status 2: the
command that rejected the input is named, and no usage block precedes it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pytest

from .conftest import ROOT, _error_lines

# argv -> (the prog named on the line, substrings of the line)
CASES = {
    "simulate --steps abc": (["simulate", "RUN", "--steps", "abc"], "snnlab simulate", "--steps", "'abc'", "int"),
    "simulate --dt x": (["simulate", "RUN", "--dt", "x"], "snnlab simulate", "--dt", "float"),
    "simulate missing target": (["simulate"], "snnlab simulate", "required", "target"),
    "simulate unknown option": (["simulate", "RUN", "--bogus"], "snnlab simulate", "unrecognized", "--bogus"),
    "train --nproc-per-node z": (["train", "r.yaml", "--nproc-per-node", "z"], "snnlab train", "--nproc-per-node"),
    "train unknown option": (["train", "r.yaml", "--epochz", "3"], "snnlab train", "unrecognized", "--epochz"),
    "eval --checkpoint middle": (["eval", "RUN", "--checkpoint", "middle"], "snnlab eval", "'middle'", "best"),
    "eval --samples many": (["eval", "RUN", "--samples", "many"], "snnlab eval", "--samples", "'many'"),
    "export missing run": (["export"], "snnlab export", "required"),
    "export --readout sum": (["export", "RUN", "--readout", "sum"], "snnlab export", "'sum'", "li", "lif"),
    "report --steps 1.5": (["report", "RUN", "--steps", "1.5"], "snnlab report", "--steps", "'1.5'"),
    "demo --epochs two": (["demo", "--epochs", "two"], "snnlab demo", "--epochs", "'two'"),
    "info extra argument": (["info", "extra"], "snnlab info", "unrecognized", "extra"),
    "lsm without action": (["lsm"], "snnlab lsm", "required", "ACTION"),
    "lsm unknown action": (["lsm", "fly"], "snnlab lsm", "'fly'", "run", "zeroshot"),
    "lsm run missing config": (["lsm", "run"], "snnlab lsm run", "required", "config"),
    "lsm run unknown option": (["lsm", "run", "c.yaml", "--x", "1"], "snnlab lsm run", "unrecognized", "--x"),
    "motion unknown action": (["motion", "fly"], "snnlab motion", "'fly'"),
    "diffusion sample --sampler euler": (
        ["diffusion", "sample", "RUN", "--sampler", "euler"],
        "snnlab diffusion sample",
        "'euler'",
        "ddim",
    ),
    "lm unknown action": (["lm", "fly", "RUN"], "snnlab lm", "'fly'"),
    "unknown command": (["trian"], "snnlab", "'trian'", "train"),
    "unknown top-level option": (["--verbose"], "snnlab", "unrecognized", "--verbose"),
}


def assert_usage_line(code: int, stderr: str, prog: str, substrings: tuple[str, ...]) -> None:
    """Exit 2 and exactly one line ``<prog>: error: ... (see <prog> --help)`` naming ``substrings``."""
    lines = _error_lines(stderr)
    assert code == 2, f"exit {code}, stderr:\n{stderr}"
    assert len(lines) == 1, f"expected one line, got:\n{stderr}"
    line = lines[0]
    assert line.startswith(f"{prog}: error: ") and line.endswith(f"(see {prog} --help)"), line
    for text in substrings:
        assert text.lower() in line.lower(), f"{text!r} not in: {line}"


@pytest.mark.parametrize("case", sorted(CASES))
def test_argparse_error_is_one_line(capsys, tmp_path, case):
    from snnlab.cli import main

    argv, prog, *expected = CASES[case]
    capsys.readouterr()
    code = main([a.replace("RUN", str(tmp_path)) for a in argv])
    assert_usage_line(code, capsys.readouterr().err, prog, tuple(expected))


def test_console_script_exits_2_with_one_line(tmp_path):
    """Through a real process (``sys.exit(main())``): status 2, one line, nothing on stdout."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(
        [sys.executable, "-m", "snnlab.cli", "simulate", str(tmp_path), "--steps", "abc"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.stdout == ""
    assert_usage_line(proc.returncode, proc.stderr, "snnlab simulate", ("--steps", "'abc'"))


def _parsers(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in set(action.choices.values()):
                yield from _parsers(sub)


def test_every_subparser_prints_one_line_errors():
    """Every command and action parser is the one-line class (a command built its own would not be)."""
    from snnlab.cli import Parser, build_parser

    parsers = list(_parsers(build_parser()))
    assert len(parsers) > 12
    assert all(isinstance(p, Parser) for p in parsers), [p.prog for p in parsers if not isinstance(p, Parser)]


def test_help_still_exits_0(capsys):
    from snnlab.cli import main

    with pytest.raises(SystemExit) as info:
        main(["simulate", "--help"])
    assert info.value.code == 0 and "usage: snnlab simulate" in capsys.readouterr().out
