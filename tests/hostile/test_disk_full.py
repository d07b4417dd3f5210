"""A full disk (a small tmpfs) while the run copies the warehouse, stages and loads parsed
workbooks, or writes the outputs: exit 1 with a Chinese message saying the disk is full and where,
the warehouse and the previous outputs exactly as before, nothing of the run left behind; and the
next run, with space, gives exactly what an undisturbed run gives."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest

DATA_FILES = ("figures.json", "rollup.csv", "submissions.csv", "issues.csv", "report.md")


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


def _size(path: Path) -> int:
    return (
        sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        if path.is_dir()
        else path.stat().st_size
    )


@contextmanager
def small_fs(path: Path, size: int):
    """A tmpfs of ``size`` bytes at ``path``; yields a function that gives it more room."""
    path.mkdir(parents=True)
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    if res.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here (CI runs as root): {res.stderr.decode()[:200]}")
    try:
        yield lambda new: subprocess.run(["mount", "-o", f"remount,size={new}", str(path)], check=True)
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.fixture(scope="module")
def county(shared_dir, run_cli, tmp_path_factory):
    """A warehouse and outputs made from part of the sample inbox (so the next run has workbooks
    to parse), and what an undisturbed run over the whole inbox makes from them."""
    small = shared_dir / "samples" / "small"
    root = tmp_path_factory.mktemp("disk-full")
    part = root / "inbox-part"
    shutil.copytree(
        small / "inbox", part, ignore=lambda d, names: ["QX-T01"] if Path(d) == small / "inbox" else []
    )
    res = run_cli(part, small / "registry.xlsx", root / "wh0" / "w.duckdb", root / "out0", "2023-12-15")
    assert res.returncode == 0, res.stderr[-2000:]
    ref = root / "ref"
    ref.mkdir()
    shutil.copyfile(root / "wh0" / "w.duckdb", ref / "w.duckdb")
    res = run_cli(small / "inbox", small / "registry.xlsx", ref / "w.duckdb", root / "out-ref", "2023-12-15")
    assert res.returncode == 0, res.stderr[-2000:]
    return {"root": root, "inbox": small / "inbox", "registry": small / "registry.xlsx"}


@pytest.mark.parametrize(
    "case, steps",
    [
        ("warehouse copy", ("复制仓库",)),
        ("staging and loading", ("暂存解析结果", "写入仓库")),
        ("outputs", ("写入输出文件",)),
    ],
)
def test_a_full_disk_changes_nothing_and_the_next_run_recovers(county, run_cli, tmp_path, case, steps):
    root = county["root"]
    wh0, out0 = root / "wh0" / "w.duckdb", root / "out0"
    wh_size, out_size = _size(wh0), _size(out0)
    sizes = {
        "warehouse copy": (wh_size + (1 << 20), None),  # the copy itself does not fit
        "staging and loading": (2 * wh_size + (192 << 10), None),  # the copy fits, its growth does not
        "outputs": (None, out_size + (96 << 10)),  # the new outputs do not fit beside the old
    }[case]
    wh_dir, out_dir = tmp_path / "wh", tmp_path / "out"
    with (
        small_fs(wh_dir, sizes[0]) if sizes[0] else _plain(wh_dir) as grow_wh,
        small_fs(out_dir, sizes[1]) if sizes[1] else _plain(out_dir) as grow_out,
    ):
        wh, out = wh_dir / "w.duckdb", out_dir / "out"
        shutil.copyfile(wh0, wh)
        shutil.copytree(out0, out)
        wh_before, out_before = hashlib.sha256(wh.read_bytes()).hexdigest(), _digest(out)
        listing = sorted(p.name for p in wh_dir.iterdir())

        res = run_cli(county["inbox"], county["registry"], wh, out, "2023-12-15")
        assert res.returncode == 1, res.stderr[-2000:]
        said = next(ln for ln in res.stderr.splitlines() if ln.startswith("ledgerflow:"))
        assert "磁盘空间已满" in said and any(f"{s}时" in said for s in steps), said
        assert hashlib.sha256(wh.read_bytes()).hexdigest() == wh_before
        assert _digest(out) == out_before
        left = sorted(
            p.name
            for p in wh_dir.iterdir()
            if not p.name.endswith((".feedback-cache", ".registry-cache.json"))
        )
        assert left == sorted(set(listing) | {"w.duckdb.lock"}), "nothing of the run is left behind"
        assert sorted(p.name for p in out_dir.iterdir()) == ["out"]

        for grow in (grow_wh, grow_out):
            grow(256 << 20)
        res = run_cli(county["inbox"], county["registry"], wh, out, "2023-12-15")
        assert res.returncode == 0, res.stderr[-2000:]
        for name in DATA_FILES:
            assert (out / name).read_bytes() == (root / "out-ref" / name).read_bytes(), name


@contextmanager
def _plain(path: Path):
    path.mkdir(parents=True)
    yield lambda new: None
