"""Fixtures for the output tests (the county itself is in outputs_county.py)."""

from __future__ import annotations

import pandas as pd
import pytest
from outputs_county import make_rollup, make_submissions, make_units


@pytest.fixture
def units() -> pd.DataFrame:
    return make_units()


@pytest.fixture
def rollup() -> pd.DataFrame:
    return make_rollup()


@pytest.fixture
def submissions() -> pd.DataFrame:
    return make_submissions()
