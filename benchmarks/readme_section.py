"""One section of benchmarks/README.md that a benchmark script owns, between its two markers."""

from __future__ import annotations

from pathlib import Path


def replace_section(readme: Path, begin: str, end: str, section: str) -> None:
    """Put ``section`` (which starts with ``begin`` and ends with ``end``) in place of the one
    between those markers, or append it where the README has none yet."""
    text = readme.read_text(encoding="utf-8") if readme.exists() else ""
    if begin in text and end in text:
        a, b = text.index(begin), text.index(end) + len(end)
        text = text[:a] + section + text[b:]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    readme.write_text(text, encoding="utf-8")
