"""Print the hostile-file table (file, verdict, seconds, peak MB) so the figures can be quoted.

    .venv/bin/python tests/hostile/report.py [DIR]

Builds every hostile file into DIR (a temporary folder by default) and parses each as a run's
parse child does (see probe.py).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from hostile_files import build_all  # noqa: E402
from probe import measure  # noqa: E402
from test_files import format_table  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tmp)
        cases = build_all(d)
        print(format_table(measure([d / n for n in cases])))


if __name__ == "__main__":
    main()
