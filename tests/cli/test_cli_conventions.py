"""CLI conventions shared by every command: --debug after the subcommand, actions as
sub-subcommands, --out for every command that writes a run."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from snnlab.cli import build_parser, main


def _commands(parser):
    sub = next(a for a in parser._actions if a.dest == "command")
    return sub.choices


def test_debug_is_accepted_after_every_subcommand():
    parser = build_parser()
    for name, sub in _commands(parser).items():
        assert "--debug" in sub._option_string_actions, name
    assert parser.parse_args(["info", "--debug"]).debug is True
    assert parser.parse_args(["--debug", "info"]).debug is True
    assert parser.parse_args(["info"]).debug is False
    assert parser.parse_args(["lsm", "run", "x.yaml", "--debug"]).debug is True


def test_debug_after_subcommand_shows_the_traceback(cli_recipe: Path):
    with pytest.raises(ValueError, match="epochz"):
        main(["train", str(cli_recipe), "--set", "train.epochz=1", "--debug"])


@pytest.mark.parametrize("command, actions", [("lsm", {"run", "zeroshot", "study"}), ("motion", {"train", "prune"})])
def test_actions_are_subcommands_with_out(command, actions):
    sub = _commands(build_parser())[command]
    choices = next(a for a in sub._actions if a.dest == "action").choices
    assert set(choices) == actions
    for parser in choices.values():
        assert {"--out", "--set", "--debug"} <= set(parser._option_string_actions)


def test_every_run_writing_command_takes_out():
    commands = _commands(build_parser())
    for name in ("demo", "train", "simulate", "export"):
        assert "--out" in commands[name]._option_string_actions, name
    for name, action in (("lm", "train"), ("diffusion", "train")):
        assert "--out" in _actions(commands[name])[action]._option_string_actions, name


def _actions(parser):
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


@pytest.mark.parametrize("command", ["lm", "diffusion", "lsm", "motion"])
def test_actions_are_subparsers(command):
    """Every command with actions parses them as sub-subcommands (no positional choice list)."""
    sub = _commands(build_parser())[command]
    assert _actions(sub)
    assert not [a for a in sub._actions if a.choices and not isinstance(a, argparse._SubParsersAction)]


def test_lm_train_out_names_the_run_folder(tmp_path: Path):
    args = build_parser().parse_args(["lm", "train", "x.yaml", "--out", str(tmp_path / "r"), "--set", "a=1"])
    assert (args.action, args.target, args.out, args.overrides) == ("train", "x.yaml", str(tmp_path / "r"), ["a=1"])


def test_train_out_names_the_run_folder(cli_recipe: Path, tmp_path: Path):
    out = tmp_path / "elsewhere" / "mine"
    assert main(["train", str(cli_recipe), "--set", "train.epochs=1", "--out", str(out)]) == 0
    assert (out / "checkpoints" / "last.pt").is_file() and (out / "config.yaml").is_file()
    assert not (cli_recipe.parent / "runs" / "cli").exists()
