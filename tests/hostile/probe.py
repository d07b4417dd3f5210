"""Parse files as a run's parse child does and report, per file, the verdict, the seconds and the
peak memory.

    python tests/hostile/probe.py FILE...      # one JSON line per file

Each file is parsed in a forked copy of this process with the parse child's address-space cap
(``Limits.worker_memory_bytes``), calling the same ``parse_workbook`` the sandbox's child calls.
The parent reaps it with ``os.wait4``, whose rusage is that child's own peak RSS; a child killed by
a signal (calamine aborts on some files) is a rejection, exactly as in the sandbox.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _short(v):
    return f"{v[:200]}…({len(v)} chars)" if isinstance(v, str) and len(v) > 200 else v


def _child(path: str, day: date, w: int) -> None:  # pragma: no cover - runs in the fork
    import resource

    from ledgerflow.parse import parse_workbook
    from ledgerflow.settings import Settings
    from ledgerflow.template import load_template

    s = Settings()
    resource.setrlimit(resource.RLIMIT_AS, (s.limits.worker_memory_bytes, s.limits.worker_memory_bytes))
    try:
        result = parse_workbook(Path(path), load_template(str(s.template)), s.limits, day)
        d = {
            "status": result.status,
            "codes": sorted({i.code for i in result.issues}),
            "reason": next((i.message for i in result.issues if i.code == "E_FILE_UNREADABLE"), ""),
            "info": {k: str(v) for k, v in result.info.items() if k in ("unit_code", "unit_name", "as_of")},
            "tables": {
                k: [{f: _short(x) for f, x in rec.items()} for rec in v]
                for k, v in result.tables.items()
                if v
            },
        }
    except MemoryError:
        d = {"status": "unreadable", "codes": ["E_FILE_UNREADABLE"], "reason": "MemoryError"}
    except BaseException as exc:  # noqa: BLE001 - the sandbox rejects the file on any exception
        d = {"status": "unreadable", "codes": ["E_FILE_UNREADABLE"], "reason": f"{type(exc).__name__}: {exc}"}
    with os.fdopen(w, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(d, ensure_ascii=False, default=str))
    os._exit(0)


def main(paths: list[str], day: date = date(2023, 12, 15), timeout: float = 60.0) -> None:
    sys.path.insert(0, str(REPO))
    from ledgerflow.parse import parse_workbook  # noqa: F401  imported once, before forking
    from ledgerflow.settings import Settings
    from ledgerflow.template import load_template

    load_template(str(Settings().template))
    for path in paths:
        r, w = os.pipe()
        t0 = time.perf_counter()
        pid = os.fork()
        if pid == 0:  # pragma: no cover
            os.close(r)
            _child(path, day, w)
        os.close(w)
        chunks: list[bytes] = []
        reader = threading.Thread(
            target=lambda fd=r, out=chunks: out.extend(iter(lambda: os.read(fd, 1 << 16), b""))
        )
        reader.start()
        deadline = time.monotonic() + timeout
        while True:
            done, status, usage = os.wait4(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.01)
        reader.join()
        os.close(r)
        line = b"".join(chunks).decode("utf-8")
        seconds = time.perf_counter() - t0
        d = (
            json.loads(line)
            if line
            else {
                "status": "unreadable",
                "codes": ["E_FILE_UNREADABLE"],
                "reason": f"child died: {signal.Signals(os.WTERMSIG(status)).name}"
                if os.WIFSIGNALED(status)
                else f"child exit {os.WEXITSTATUS(status)}",
            }
        )
        d.update(file=os.path.basename(path), seconds=seconds, peak_mb=usage.ru_maxrss / 1024)
        print(json.dumps(d, ensure_ascii=False, default=str), flush=True)


def measure(paths: list[Path], timeout: float = 900) -> dict[str, dict]:
    """Run this script on ``paths`` in a fresh interpreter; file name -> result."""
    proc = subprocess.run(
        [sys.executable, __file__, *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"probe failed: {proc.stderr[-2000:]}")
    out = {}
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            d = json.loads(line)
            out[d["file"]] = d
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
