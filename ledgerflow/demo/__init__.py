"""Demo and benchmark county generator (云岭县, codes ``YL``…).

* :mod:`ledgerflow.demo.content` – vocabularies, column/sheet names and Chinese content pools;
* :mod:`ledgerflow.demo.writer` – one clean ledger -> one messy workbook (:class:`Mess`), and
  one-defect fixtures (:func:`plant_defect`, :func:`write_defective_workbook`,
  :func:`write_unreadable`);
* :mod:`ledgerflow.demo.generator` – the whole county: registry, inbox and ``truth.json``
  (:func:`generate_county`).
"""

from .generator import generate_county, truth_ledgers
from .writer import (
    ERROR_CODES,
    SECTION8_FORMS,
    UNREADABLE_VARIANTS,
    WARNING_CODES,
    Book,
    Defect,
    Mess,
    Plan,
    applicable_defects,
    build_book,
    plant_defect,
    render_book,
    write_defective_workbook,
    write_unreadable,
    write_workbook,
)

__all__ = [
    "ERROR_CODES",
    "SECTION8_FORMS",
    "UNREADABLE_VARIANTS",
    "WARNING_CODES",
    "Book",
    "Defect",
    "Mess",
    "Plan",
    "applicable_defects",
    "build_book",
    "generate_county",
    "plant_defect",
    "render_book",
    "truth_ledgers",
    "write_defective_workbook",
    "write_unreadable",
    "write_workbook",
]
