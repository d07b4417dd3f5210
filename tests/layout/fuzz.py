"""A long randomized session of the layout properties (``make fuzz``).

Runs tests/layout/test_properties.py in the hypothesis ``fuzz`` profile (randomized, with the
example database, ``LAYOUT_FUZZ_EXAMPLES`` examples per property) and copies each shrunk failure the
properties leave in last-failure/ into regressions/<property>-<short hash>.json, where
test_regressions.py replays it in every CI run from then on.

    .venv/bin/python tests/layout/fuzz.py [--examples 5000] [--rounds 3] [-k round_trip]
        [--without group-names-column,nondata-between,combined]

``--without`` switches freedoms off for the session (strategies.WITHOUT), to look behind a failure
that is already known and not yet fixed; the copied fixtures still replay the layouts as drawn.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
LAST = HERE / "last-failure"
REGRESSIONS = HERE / "regressions"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", type=int, default=int(os.environ.get("LAYOUT_FUZZ_EXAMPLES", "2000")))
    ap.add_argument("--rounds", type=int, default=1, help="sessions in a row (each randomized anew)")
    ap.add_argument("-k", default="", help="pytest -k expression, e.g. round_trip")
    ap.add_argument("--without", default=os.environ.get("LAYOUT_WITHOUT", ""))
    args = ap.parse_args(argv)

    env = dict(os.environ)
    env.update(
        HYPOTHESIS_PROFILE="fuzz",
        LAYOUT_FUZZ_EXAMPLES=str(args.examples),
        LAYOUT_WITHOUT=args.without,
    )
    worst = 0
    copied: list[Path] = []
    for n in range(1, args.rounds + 1):
        shutil.rmtree(LAST, ignore_errors=True)
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            str(HERE / "test_properties.py"),
            "-q",
            "-p",
            "no:cacheprovider",
        ]
        if args.k:
            cmd += ["-k", args.k]
        print(f"fuzz round {n}/{args.rounds}: {args.examples} examples per property", flush=True)
        rc = subprocess.call(cmd, cwd=REPO, env=env)
        worst = max(worst, rc)
        copied += collect()
    for path in copied:
        print(f"new regression fixture: {path.relative_to(REPO)}")
    if not copied:
        print("no new failure")
    return worst


def collect() -> list[Path]:
    """Copies the final (shrunk) failures of last-failure/ into regressions/; returns the new files."""
    REGRESSIONS.mkdir(exist_ok=True)
    new = []
    finals = sorted(LAST.glob("*-*.json")) or sorted(LAST.glob("*.json"))
    for src in finals:
        dest = REGRESSIONS / src.name
        if src.stem.count("-") == 0:  # only the last failure was kept: name it by its content
            import hashlib

            dest = REGRESSIONS / f"{src.stem}-{hashlib.sha1(src.read_bytes()).hexdigest()[:10]}.json"
        if not dest.exists():
            shutil.copyfile(src, dest)
            new.append(dest)
    return new


if __name__ == "__main__":
    sys.exit(main())
