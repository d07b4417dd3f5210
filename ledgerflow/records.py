"""Parsed workbooks as Arrow tables: the row format shared by ingest and the warehouse.

Every ledger row keeps its lineage: the file's sha256, the sheet and the Excel row.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ledgerflow.parse import Parsed
from ledgerflow.template import Template

#: Bump whenever a workbook's bytes would be read differently (locate, parse, normalise): results
#: are kept by sha256 and this fingerprint, so a warehouse re-reads its files once after an upgrade
#: instead of keeping what an older reader made of them.
READER_VERSION = "2"


def parser_fingerprint(tpl: Template) -> str:
    """What a parsed result depends on besides the file: the reader's version and the template."""
    return hashlib.sha256(f"{READER_VERSION}:{tpl.source_sha256}".encode()).hexdigest()[:16]


_TYPES = {
    "text": pa.string(),
    "id": pa.string(),
    "vocab": pa.string(),
    "date": pa.date32(),
    "deadline": pa.date32(),
    "int": pa.int64(),
    "vocab_list": pa.list_(pa.string()),
}

PARSED_SCHEMA = pa.schema(
    [
        ("sha256", pa.string()),
        ("status", pa.string()),
        ("unit_code", pa.string()),
        ("unit_name", pa.string()),
        ("as_of", pa.date32()),
        ("as_of_raw", pa.string()),
        ("reporter", pa.string()),
        ("phone", pa.string()),
        ("members", pa.int64()),
        ("members_with_plan", pa.int64()),
        ("info_sheet", pa.string()),
        ("unit_code_cell", pa.string()),
        ("unit_name_cell", pa.string()),
        ("rows_read", pa.int64()),
        ("errors", pa.int64()),
        ("warnings", pa.int64()),
        ("parser", pa.string()),
        ("layout", pa.string()),
    ]
)

ISSUE_SCHEMA = pa.schema(
    [
        ("sha256", pa.string()),
        ("seq", pa.int32()),
        ("sheet", pa.string()),
        ("row", pa.int32()),
        ("column", pa.string()),
        ("cell", pa.string()),
        ("code", pa.string()),
        ("severity", pa.string()),
        ("message", pa.string()),
        ("value", pa.string()),
    ]
)


def table_schema(tpl: Template, name: str) -> pa.Schema:
    fields = [("sha256", pa.string()), ("sheet", pa.string()), ("row", pa.int32()), ("cell", pa.string())]
    for col in tpl.tables[name].columns:
        fields.append((col.field, _TYPES[col.type]))
    return pa.schema(fields)


def to_arrow(items: list[tuple[str, Parsed]], tpl: Template) -> dict[str, pa.Table]:
    """{"parsed": …, "content_issues": …, "<table>": …} for a batch of (sha256, Parsed)."""
    parsed_rows, issue_rows = [], []
    fingerprint = parser_fingerprint(tpl)
    table_rows: dict[str, list[dict]] = {name: [] for name in tpl.tables}
    for sha, p in items:
        info = p.info
        errors = sum(1 for i in p.issues if i.severity == "error")
        parsed_rows.append(
            {
                "sha256": sha,
                "status": p.status,
                "unit_code": info.get("unit_code"),
                "unit_name": info.get("unit_name"),
                "as_of": info.get("as_of"),
                "as_of_raw": info.get("as_of_raw"),
                "reporter": info.get("reporter"),
                "phone": info.get("phone"),
                "members": info.get("members"),
                "members_with_plan": info.get("members_with_plan"),
                "info_sheet": info.get("info_sheet"),
                "unit_code_cell": info.get("unit_code_cell"),
                "unit_name_cell": info.get("unit_name_cell"),
                "rows_read": p.rows_read,
                "errors": errors,
                "warnings": len(p.issues) - errors,
                "parser": fingerprint,
                "layout": json.dumps(p.layout, ensure_ascii=False, sort_keys=True),
            }
        )
        for seq, i in enumerate(p.issues):
            issue_rows.append(
                {
                    "sha256": sha,
                    "seq": seq,
                    "sheet": i.sheet,
                    "row": i.row,
                    "column": i.column,
                    "cell": i.cell,
                    "code": i.code,
                    "severity": i.severity,
                    "message": i.message,
                    "value": i.value,
                }
            )
        for name, recs in p.tables.items():
            rows = table_rows[name]
            for rec in recs:
                rows.append({"sha256": sha, **rec})
    out = {
        "parsed": pa.Table.from_pylist(parsed_rows, schema=PARSED_SCHEMA),
        "content_issues": pa.Table.from_pylist(issue_rows, schema=ISSUE_SCHEMA),
    }
    for name, rows in table_rows.items():
        out[name] = pa.Table.from_pylist(rows, schema=table_schema(tpl, name))
    return out


def write_stage(stage_dir: Path, tables: dict[str, pa.Table]) -> Path:
    stage_dir.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        pq.write_table(table, stage_dir / f"{name}.parquet")
    return stage_dir
