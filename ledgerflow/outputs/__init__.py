"""Human-facing outputs: the report, summary.xlsx, feedback workbooks and safe CSV/xlsx writing.

Every function takes plain pandas DataFrames (the pipeline's contract) and writes files:

* :func:`render_report` — report.md and report.docx for one unit (the root for the county report);
* :func:`write_summary` — summary.xlsx, one sheet per level, charts, and the long table;
* :func:`write_feedback` — a clerk's workbook returned with the issues marked;
* :func:`write_csv` / :func:`neutralise` — CSV files safe to open in Excel.
"""

from .feedback import ADVICE, feedback_filename, write_feedback
from .report import render_report, render_report_markdown
from .safe import neutralise, new_workbook, set_text_cell, write_csv, write_text_cell
from .summary import write_summary

__all__ = [
    "ADVICE",
    "feedback_filename",
    "neutralise",
    "new_workbook",
    "render_report",
    "render_report_markdown",
    "set_text_cell",
    "write_csv",
    "write_feedback",
    "write_summary",
    "write_text_cell",
]
