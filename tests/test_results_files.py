"""The one results-file rule (snnlab.results): eval.json, eval/<tag>.json, <study>.json.

The source scan fails when code names a JSON file of a run folder outside snnlab/results.py;
the command tests (lsm, motion, lm, early exit, demo) check the folders they wrote with
``stray_results``.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from snnlab import results
from snnlab.errors import ConfigError

PACKAGE = Path(__file__).resolve().parents[1] / "snnlab"
# JSON names that are not files of a run folder: schemas shipped with hw, a user's tokenizer,
# the example in export's --out check
NOT_RUN_FILES = {"descriptor.schema.json", "profile.schema.json", "tokenizer.json", "chip.json"}


def _json_names(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, text) of every file-name-like string literal or f-string ending in ``.json``."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        elif isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[-1], ast.Constant):
            text = "{...}" + str(node.values[-1].value)
        else:
            continue
        if text.endswith(".json") and " " not in text and text not in NOT_RUN_FILES:
            found.append((node.lineno, text))
    return found


def test_no_results_file_is_named_outside_the_rule_module():
    stray = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "results.py" and path.parent == PACKAGE:
            continue
        tree = ast.parse(path.read_text(), str(path))
        stray += [f"{path.relative_to(PACKAGE.parent)}:{line}: {text}" for line, text in _json_names(tree)]
    assert stray == [], "name results files through snnlab.results (eval_path, tagged_eval_path, study_path)"


@pytest.mark.parametrize(
    "relative, ok",
    [
        ("eval.json", True),
        ("eval/ddim50_th0_n256_s0.json", True),
        ("eval/bpc_test_best.json", True),
        ("early_exit.json", True),
        ("sim_check.json", True),
        ("prune.json", True),
        ("study.json", True),
        ("activity.json", True),
        ("sim/activity.json", True),
        ("sim/counts.json", True),
        ("hw/loihi2.json", True),
        ("config.yaml", True),
        ("lsm_results.json", False),
        ("train_results.json", False),
        ("prune_results.json", False),
        ("lm_eval.json", False),
        ("profile.json", False),
        ("plots/x.json", False),
    ],
)
def test_rule_table(relative, ok):
    assert results.follows_rule(relative) is ok


def test_paths_follow_the_rule(tmp_path):
    assert results.eval_path(tmp_path) == tmp_path / "eval.json"
    assert results.tagged_eval_path(tmp_path, "ddim50") == tmp_path / "eval" / "ddim50.json"
    for study in results.STUDIES:
        assert results.follows_rule(results.study_path(tmp_path, study).relative_to(tmp_path))
    with pytest.raises(ValueError, match="valid: early_exit"):
        results.study_path(tmp_path, "lsm_results")


@pytest.mark.parametrize("tag", ["", "../x", "a/b", ".hidden"])
def test_bad_tag_is_one_line(tmp_path, tag):
    with pytest.raises(ConfigError, match="valid: a plain file name"):
        results.tagged_eval_path(tmp_path, tag)


def test_write_results_is_atomic_and_stray_results_finds_old_names(tmp_path):
    path = results.write_results(results.eval_path(tmp_path / "run"), {"accuracy": 0.5})
    assert json.loads(path.read_text()) == {"accuracy": 0.5}
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["eval.json"]  # no temp file left
    (tmp_path / "run" / "lsm_results.json").write_text("{}")
    assert results.stray_results(tmp_path / "run") == ["lsm_results.json"]
