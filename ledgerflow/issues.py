"""Errors as data (ledger.md §9): a stable code, a Chinese message, and where it is."""

from __future__ import annotations

from dataclasses import asdict, dataclass

ERRORS = (
    "E_FILE_UNREADABLE",
    "E_UNIT_UNKNOWN",
    "E_UNIT_FORBIDDEN",
    "E_AS_OF",
    "E_COLUMNS",
    "E_REQUIRED",
    "E_VOCAB",
    "E_DATE",
    "E_NUMBER",
    "E_DUPLICATE_ID",
    "E_UNKNOWN_PROBLEM",
)
WARNINGS = (
    "W_SHEET_IGNORED",
    "W_EXTRA_COLUMN",
    "W_UNIT_NAME",
    "W_FORMULA",
    "W_DATE_RANGE",
    "W_CLOSED_NO_DATE",
    "W_NO_MEASURE",
    "W_PLAN_EXCEEDS",
    "W_ROW_VANISHED",
    "W_COUNT_FELL",
    "W_STATUS_BACKWARD",
)
CODES = ERRORS + WARNINGS


def severity_of(code: str) -> str:
    return "error" if code.startswith("E_") else "warning"


def column_letter(index: int) -> str:
    """0-based column index -> Excel letters (0 -> A, 25 -> Z, 26 -> AA)."""
    letters = ""
    n = index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def cell_ref(row0: int, col0: int) -> str:
    return f"{column_letter(col0)}{row0 + 1}"


@dataclass(frozen=True)
class Issue:
    """One error or warning. ``row`` is the Excel row (1-based); ``column`` the header as written."""

    code: str
    message: str
    sheet: str = ""
    row: int | None = None
    column: str = ""
    cell: str = ""
    value: str = ""

    @property
    def severity(self) -> str:
        return severity_of(self.code)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["severity"] = self.severity
        return d
