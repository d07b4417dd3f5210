"""Where a failing property leaves its example: ``last-failure/<property>.json`` holds the last
failing (so, after shrinking, the minimal) case; the final replays hypothesis reports are also kept
as ``last-failure/<property>-<hash>.json``, one per distinct bug, for fuzz.py to copy into
regressions/."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from model import Case

HERE = Path(__file__).resolve().parent
LAST = HERE / "last-failure"
REGRESSIONS = HERE / "regressions"


def profile_name() -> str:
    return os.environ.get("HYPOTHESIS_PROFILE", "ci")


def record_failure(case: Case, prop: str | None = None) -> Path:
    """Writes ``case`` as the property's last failure; returns the file."""
    from hypothesis.control import current_build_context

    prop = prop or case.prop
    LAST.mkdir(exist_ok=True)
    text = case.dumps()
    path = LAST / f"{prop}.json"
    path.write_text(text, encoding="utf-8")
    try:
        final = current_build_context().is_final
    except Exception:  # outside a hypothesis run (e.g. the figures part)
        final = True
    if final:
        (LAST / f"{prop}-{case.digest()}.json").write_text(text, encoding="utf-8")
    return path


_PER_PROPERTY = float(os.environ.get("LAYOUT_SHRINK_SECONDS", "45" if profile_name() == "ci" else "300"))
_left = [_PER_PROPERTY * 3 + 5 if profile_name() == "ci" else float("inf")]


@contextmanager
def shrink_budget() -> Iterator[None]:
    """Caps hypothesis' shrinking for the property run inside (hypothesis has no setting for it: its
    engine reads this module constant when shrinking starts); a failing run uses up the session's
    budget, so a suite with several failing properties still ends in time."""
    from hypothesis.internal.conjecture import engine

    saved = engine.MAX_SHRINKING_SECONDS
    engine.MAX_SHRINKING_SECONDS = max(5, int(min(_PER_PROPERTY, _left[0])))
    start = time.perf_counter()
    try:
        yield
    except BaseException:
        _left[0] -= min(time.perf_counter() - start, engine.MAX_SHRINKING_SECONDS)
        raise
    finally:
        engine.MAX_SHRINKING_SECONDS = saved
