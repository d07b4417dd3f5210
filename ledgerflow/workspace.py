"""``ledgerflow sql``: an analyst's own DuckDB database with the warehouse attached read-only.

The warehouse is replaced whole by every run (warehouse/publish.py), and a table an analyst writes
into it would be lost at the next run, so analysts write here instead: their tables live in the
workspace, the warehouse's views (rollup, problems, changes, …) are readable by name, and when a
run publishes a new warehouse the workspace attaches the new one before the next statement.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO

import duckdb

ALIAS = "wh"


class Workspace:
    def __init__(self, workspace: Path, warehouse: Path):
        self.warehouse = Path(warehouse).resolve()
        if not self.warehouse.exists():
            raise FileNotFoundError(f"仓库不存在：{self.warehouse}（请先运行 ledgerflow run）")
        workspace = Path(workspace)
        workspace.parent.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(str(workspace))
        self.home = self.con.execute("select current_database()").fetchone()[0]
        self._inode: int | None = None
        self.refresh()

    def refresh(self) -> None:
        """Attach the warehouse as published now (a run swaps in a new file: attach that one)."""
        inode = os.stat(self.warehouse).st_ino
        if inode == self._inode:
            return
        if self._inode is not None:
            self.con.execute(f"detach {ALIAS}")
        self.con.execute(f"attach '{_literal(str(self.warehouse))}' as {ALIAS} (read_only)")
        # the analyst's own tables first, then the warehouse's views by their plain names
        self.con.execute(f"set search_path = '{_literal(self.home)}.main,{ALIAS}.main'")
        self._inode = inode

    def execute(self, sql: str) -> duckdb.DuckDBPyRelation | None:
        self.refresh()
        return self.con.sql(sql)

    def close(self) -> None:
        self.con.close()


def _literal(text: str) -> str:
    return text.replace("'", "''")


def statements(stream: TextIO) -> Iterator[str]:
    """SQL statements from a stream as they are typed, each ending with a line that ends in ';'."""
    buf: list[str] = []
    for line in stream:
        buf.append(line)
        if line.rstrip().endswith(";"):
            yield "".join(buf).strip()
            buf = []
    rest = "".join(buf).strip()
    if rest:
        yield rest


def run(ws: Workspace, sqls: Iterable[str], out: TextIO = sys.stdout) -> int:
    """Run each statement, printing what a query returns; returns the number that failed."""
    failed = 0
    for sql in sqls:
        try:
            rel = ws.execute(sql)
        except duckdb.Error as exc:
            print(f"错误：{exc}", file=sys.stderr)
            failed += 1
            continue
        if rel is not None:
            out.write(rel.fetchdf().to_string(index=False) + "\n")
            out.flush()
    return failed
