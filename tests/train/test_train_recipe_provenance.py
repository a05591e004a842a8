"""Every paper number in the recipes and results names its source, never an unshipped notes file."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FILES = (
    sorted((ROOT / "experiments").glob("*.yaml"))
    + [ROOT / "experiments" / "results.md", ROOT / "README.md"]
    + sorted((ROOT / "hw").glob("*.yaml"))
    + sorted((ROOT / "docs").glob("*.md"))
    + sorted((ROOT / "datasets").glob("*.md"))
    + sorted((ROOT / "snnlab").rglob("*.py"))
)


def test_no_citation_of_files_outside_the_repository():
    bad = [
        (path.relative_to(ROOT), phrase)
        for path in FILES
        for phrase in ("papers.md", "as commonly cited")
        if phrase in path.read_text(encoding="utf-8")
    ]
    assert not bad, f"name the paper's table/figure or the official repository file instead of: {bad}"
