"""Benchmark corpus: a demo county of N units (messy forms included), cached under benchmarks/work/.

``county(n_units, seed)`` returns the cached county folder (``registry.xlsx``, ``inbox/``), writing
it with the project's own generator the first time. The cache is keyed by N and seed and by the
generator's version; a folder is only reused once its ``.complete`` marker is there.

``add_new_workbooks(inbox, n_units, seed, fraction)`` writes about ``fraction`` × (workbooks in the
corpus) *new* workbooks into an inbox: new weekly versions for real units of the same registry
(same unit tree, a different history seed), in a dated folder the office made, so they are parsed,
resolved and rolled up like any other upload.

    .venv/bin/python benchmarks/corpus.py --units 2000        # write (or reuse) the corpus
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import random
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from ledgerflow.demo import generator as G  # noqa: E402

WORK = REPO / "benchmarks" / "work"
WORKBOOK_EXT = (".xlsx", ".xlsm", ".xls")


def corpus_dir(n_units: int, seed: int) -> Path:
    return WORK / f"county-v{G.GENERATOR_VERSION}-n{n_units}-s{seed}"


def county(n_units: int, seed: int = 2023, *, workers: int | None = None, quiet: bool = False) -> Path:
    """The cached county for (N, seed); generated (messy) when absent or incomplete."""
    root = corpus_dir(n_units, seed)
    marker = root / ".complete"
    if marker.is_file():
        return root
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    t0 = time.perf_counter()
    if not quiet:
        print(f"generating corpus {root.name} ({n_units} units) …", flush=True)
    truth = G.generate_county(
        root, n_units=n_units, seed=seed, messy=True, workers=workers, with_ledgers=False
    )
    seconds = time.perf_counter() - t0
    kinds: dict[str, int] = {}
    for f in truth["files"]:
        kinds[f["kind"]] = kinds.get(f["kind"], 0) + 1
    info = {
        "n_units": n_units,
        "seed": seed,
        "files": len(truth["files"]),
        "kinds": kinds,
        "generate_seconds": round(seconds, 1),
    }
    (root / "corpus.json").write_text(json.dumps(info, ensure_ascii=False, indent=1), encoding="utf-8")
    marker.write_text("ok\n", encoding="utf-8")
    if not quiet:
        print(f"  {info['files']} files ({kinds}) in {seconds:.0f} s", flush=True)
    return root


def info(root: Path) -> dict:
    return json.loads((Path(root) / "corpus.json").read_text(encoding="utf-8"))


def workbooks(inbox: Path) -> list[Path]:
    """Every file under the inbox that has a workbook extension (what the baselines read)."""
    return sorted(
        p
        for p in Path(inbox).rglob("*")
        if p.is_file() and p.suffix.lower() in WORKBOOK_EXT and not p.name.startswith("~$")
    )


def add_new_workbooks(
    inbox: Path, n_units: int, seed: int, fraction: float = 0.01, *, round_no: int = 1
) -> list[Path]:
    """Write ~fraction × (workbooks of the corpus) new workbooks for real units into ``inbox``."""
    inbox = Path(inbox)
    n_existing = len(workbooks(inbox))
    want = max(1, math.ceil(n_existing * fraction))
    units = G.build_units(n_units, random.Random(f"{seed}:units"))  # the same tree as the corpus
    engines = tuple(e for e in ("openpyxl", "xlsxwriter", "xlwt") if e in G.ENGINES)
    planner = G._Planner(units, seed * 1000 + round_no, True, engines)
    planner.plan()
    rng = random.Random(f"{seed}:incr:{round_no}")
    jobs = rng.sample(planner.jobs, min(want, len(planner.jobs)))
    folder = f"2023-12-2{round_no % 10}-增补"
    written = []
    for i, job in enumerate(jobs):
        name = job.path.rsplit("/", 1)[-1]
        stem, _, ext = name.rpartition(".")
        rel = f"{folder}/{stem}_新{i:04d}.{ext}"
        G._run_job((str(inbox), dataclasses.replace(job, path=rel)))
        written.append(inbox / rel)
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=2023)
    ap.add_argument("--workers", type=int, default=None, help="generator processes (default: per CPU)")
    a = ap.parse_args(argv)
    root = county(a.units, a.seed, workers=a.workers)
    print(root)
    print(json.dumps(info(root), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
