"""The loaded row format as pandera schemas, built from the campaign template.

Cell-level problems are reported to the clerk by the normalisers (with file, sheet and cell);
these schemas guard the contract between ingest and the warehouse: every batch of normalised
rows is checked (lazily, all failures at once) before it is staged, so a bug in a normaliser can
never load a slug that is not in the vocabulary, a negative count or a row without lineage.
"""

from __future__ import annotations

import pandera.pandas as pa
import pyarrow as pa_arrow

from ledgerflow.template import Template


class ContractError(RuntimeError):
    pass


def _schema(tpl: Template, table: str) -> pa.DataFrameSchema:
    # kept on the template object (not by id(): an id is reused once its object is gone, and the
    # template cache now makes a new object whenever the file changes)
    cache = tpl.__dict__.setdefault("_frame_schemas", {})
    if table not in cache:
        cache[table] = _build(tpl, table)
    return cache[table]


def _build(tpl: Template, table: str) -> pa.DataFrameSchema:
    cols: dict[str, pa.Column] = {
        "sha256": pa.Column(None, pa.Check.str_length(64, 64), nullable=False),
        "sheet": pa.Column(None, nullable=False),
        "row": pa.Column(int, pa.Check.ge(1), nullable=False, coerce=True),
    }
    for col in tpl.tables[table].columns:
        if col.type == "vocab":
            slugs = list(tpl.vocabularies[col.vocab].slugs)
            cols[col.field] = pa.Column(None, pa.Check.isin(slugs), nullable=True)
        elif col.type == "int":
            cols[col.field] = pa.Column(nullable=True, checks=pa.Check(lambda s: s.dropna() >= 0))
        elif col.type in ("text", "id") and col.required:
            cols[col.field] = pa.Column(None, nullable=True)
    return pa.DataFrameSchema(cols, strict=False)


def validate_batch(tables: dict[str, pa_arrow.Table], tpl: Template) -> None:
    for name in tpl.tables:
        table = tables[name]
        if table.num_rows == 0:
            continue
        df = table.drop_columns(
            [c.field for c in tpl.tables[name].columns if c.type == "vocab_list"]
        ).to_pandas()
        try:
            _schema(tpl, name).validate(df, lazy=True)
        except pa.errors.SchemaErrors as exc:
            raise ContractError(f"{name}: {exc.failure_cases.head(10).to_dict('records')}") from exc
