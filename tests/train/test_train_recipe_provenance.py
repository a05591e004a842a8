"""Every paper number in the recipes and results names its source, never an unshipped notes file."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted((ROOT / "experiments").glob("*.yaml")) + [ROOT / "experiments" / "results.md"] + sorted(
    (ROOT / "hw").glob("*.yaml"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_no_citation_of_files_outside_the_repository(path):
    text = path.read_text()
    for phrase in ("papers.md", "as commonly cited"):
        assert phrase not in text, f"{path.name} cites '{phrase}': name the paper's table/figure or the official repository file"
