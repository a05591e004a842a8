"""Small formatting helpers shared by the messages of the commands."""

from __future__ import annotations


def plural(n: float, word: str, many: str | None = None) -> str:
    """``"1 epoch"``, ``"8 epochs"``, ``"1,293 samples"``: the count with the word in the right number."""
    count = f"{n:,}" if isinstance(n, int) else f"{n:g}"
    return f"{count} {word if n == 1 else (many or word + 's')}"
