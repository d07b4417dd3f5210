"""Every layout in regressions/ replayed through its property's check (checks.py): a reader bug a
property once found, or a known one guarded by hand, stays fixed. fuzz.py adds the shrunk failures
of long randomized sessions here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from checks import CHECKS
from model import Case

FIXTURES = sorted((Path(__file__).resolve().parent / "regressions").glob("*.json"))


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.stem for f in FIXTURES])
def test_regression(fixture: Path, tmp_path, parse):
    case = Case.from_json(json.loads(fixture.read_text(encoding="utf-8")))
    CHECKS[case.prop](case, tmp_path, parse)
