"""E_FILE_UNREADABLE (ledger.md §9): files that are not readable workbooks, and a parse worker that dies
mid-file — that one file is rejected and the rest of the batch still parses."""

from __future__ import annotations

import os
import signal
import threading
import time
import zipfile
from pathlib import Path

import psutil
import pytest
from books import codes, ledger, table

from ledgerflow.sandbox import Worker, parse_files


def _cut(path: Path, keep: float) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def _raw_xlsx(path: Path, sheet_xml: str) -> Path:
    """A minimal xlsx written part by part, for sheets no library would write."""
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            "</Types>"
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            '<sheets><sheet name="会议" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
        ),
        "xl/worksheets/sheet1.xml": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            f"<sheetData>{sheet_xml}</sheetData></worksheet>"
        ),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in parts.items():
            zf.writestr(name, text)
    return path


def _inline(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def _big_xlsx(path: Path, rows: int = 40_000) -> Path:
    """A long meetings sheet: a second or more to parse."""
    head = "".join(
        _inline(f"{c}1", h)
        for c, h in zip("ABCDE", ["会议日期", "会议类型", "会议主题", "所属环节", "参会人数"], strict=True)
    )
    body = [f'<row r="1">{head}</row>']
    for r in range(2, rows + 2):
        cells = [("A", "2023年10月9日"), ("B", "党委会"), ("C", f"会议{r}"), ("D", "学习教育"), ("E", "30人")]
        body.append(f'<row r="{r}">' + "".join(_inline(f"{c}{r}", v) for c, v in cells) + "</row>")
    return _raw_xlsx(path, "".join(body))


@pytest.fixture
def unreadable_files(tmp_path, make_book):
    """{description: path} of files that are not readable workbooks."""
    files = {}
    files["text named .xlsx"] = tmp_path / "文本.xlsx"
    files["text named .xlsx"].write_text("单位代码,QX-T01\n这不是Excel文件\n", encoding="utf-8")
    files["truncated zip"] = _cut(make_book("截断.xlsx", ledger()), 0.5)
    files["PDF named .xls"] = tmp_path / "扫描件.xls"
    files["PDF named .xls"].write_bytes(b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n%%EOF\n")
    files["empty file"] = tmp_path / "空.xlsx"
    files["empty file"].write_bytes(b"")
    files["xlsx named .xls"] = make_book("改名.xls", ledger())
    files["a zip that is not a workbook"] = tmp_path / "文档.xlsx"
    with zipfile.ZipFile(files["a zip that is not a workbook"], "w") as zf:
        zf.writestr("word/document.xml", "<w:document/>")
    files["html saved as .xls"] = tmp_path / "网页.xls"
    files["html saved as .xls"].write_text(
        "<html><table><tr><td>会议</td></tr></table></html>", encoding="utf-8"
    )
    files["cells at A1 and XFD1048576"] = _raw_xlsx(
        tmp_path / "越界.xlsx",
        f'<row r="1">{_inline("A1", "会议日期")}</row><row r="1048576">{_inline("XFD1048576", "x")}</row>',
    )
    return files


def test_every_unreadable_file_is_e_file_unreadable(parse, unreadable_files):
    for what, path in unreadable_files.items():
        p = parse(path)
        assert p.status == "unreadable", what
        assert codes(p) == ["E_FILE_UNREADABLE"], what
        issue = p.issues[0]
        assert issue.severity == "error" and issue.message, what
        assert (issue.sheet, issue.row, issue.cell) == ("", None, ""), what  # a file-level error
        assert p.tables == {} or all(v == [] for v in p.tables.values()), what


def test_the_reason_says_what_the_file_is(parse, unreadable_files):
    assert "PDF" in parse(unreadable_files["PDF named .xls"]).issues[0].message
    assert "空" in parse(unreadable_files["empty file"]).issues[0].message


def test_unreadable_files_in_a_batch_do_not_stop_the_others(
    tpl, limits, ingest_day, tmp_path, make_book, unreadable_files
):
    good = make_book("good.xlsx", ledger())
    paths = [*unreadable_files.values(), good]
    results = parse_files([str(p) for p in paths], str(tpl.path), limits, ingest_day)
    assert [r.status for r in results] == ["unreadable"] * len(unreadable_files) + ["parsed"]
    assert codes(results[-1]) == [] and len(results[-1].tables["meetings"]) == 2


def _kill_when_parsing(stop: threading.Event, killed: list[int], grown: int = 40 << 20) -> None:
    """SIGKILL the child process of this test once it is deep in parsing the big file: its memory
    has grown by ``grown`` bytes since it was first seen (the worker reads a file's bytes once and
    parses them in memory, so holding the file open says nothing)."""
    me = psutil.Process()
    base: dict[int, int] = {}
    while not stop.is_set():
        for child in me.children(recursive=True):
            try:
                rss = child.memory_info().rss
                if rss - base.setdefault(child.pid, rss) > grown:
                    os.kill(child.pid, signal.SIGKILL)
                    killed.append(child.pid)
                    return
            except (psutil.Error, OSError):
                continue
        time.sleep(0.01)


def test_a_worker_killed_mid_parse_rejects_that_file_and_the_batch_goes_on(
    tpl, limits, ingest_day, tmp_path, make_book
):
    big = _big_xlsx(tmp_path / "大台账.xlsx")
    good = make_book("good.xlsx", ledger())
    bad_rows = table("study")
    bad_rows[1][2] = "看电影"
    bad = make_book("bad.xlsx", ledger(study=bad_rows))
    stop, killed = threading.Event(), []
    killer = threading.Thread(target=_kill_when_parsing, args=(stop, killed), daemon=True)
    killer.start()
    try:
        results = parse_files([str(big), str(good), str(bad)], str(tpl.path), limits, ingest_day)
    finally:
        stop.set()
        killer.join(5)
    assert killed, "the test never caught the worker parsing the big file"
    assert results[0].status == "unreadable" and codes(results[0]) == ["E_FILE_UNREADABLE"]
    assert "读取进程异常退出" in results[0].issues[0].message and "SIGKILL" in results[0].issues[0].message
    assert results[1].status == "parsed" and codes(results[1]) == []
    assert results[2].status == "parsed" and codes(results[2]) == ["E_VOCAB"]


def test_a_worker_restarts_after_being_killed(tpl, limits, ingest_day, tmp_path, make_book):
    big = _big_xlsx(tmp_path / "大台账.xlsx")
    good = make_book("good.xlsx", ledger())
    worker = Worker(str(tpl.path), limits, ingest_day)
    try:
        first, _ = worker.parse(str(good))  # warm: the child is up and idle
        assert first.status == "parsed"
        pid = worker.proc.pid
        stop, killed = threading.Event(), []
        killer = threading.Thread(target=_kill_when_parsing, args=(stop, killed), daemon=True)
        killer.start()
        result, reason = worker.parse(str(big))
        stop.set()
        killer.join(5)
        assert killed == [pid]
        assert result is None and "读取进程异常退出" in reason and "SIGKILL" in reason
        again, reason = worker.parse(str(good))
        assert reason == "" and again.status == "parsed" and codes(again) == []
        assert worker.proc.pid != pid
    finally:
        worker.stop()


def test_the_reason_for_a_dead_worker_names_the_signal(tpl, limits, ingest_day, tmp_path):
    big = _big_xlsx(tmp_path / "大台账.xlsx")
    stop, killed = threading.Event(), []
    killer = threading.Thread(target=_kill_when_parsing, args=(stop, killed), daemon=True)
    killer.start()
    try:
        (result,) = parse_files([str(big)], str(tpl.path), limits, ingest_day)
    finally:
        stop.set()
        killer.join(5)
    assert killed
    assert "SIGKILL" in result.issues[0].message and "None" not in result.issues[0].message


def test_a_file_that_hangs_is_rejected_and_the_files_queued_behind_it_are_read(
    tpl, ingest_day, tmp_path, make_book
):
    """The child is handed the next file before it answers the last (parse_all); when it hangs on
    one, that file is rejected with the time limit and the file already queued behind it is read
    by a new child, not lost and not blamed."""
    import dataclasses

    from ledgerflow.settings import Limits

    fifo = tmp_path / "卡住.xlsx"
    os.mkfifo(fifo)  # opening it for reading waits for a writer that never comes
    good = make_book("good.xlsx", ledger())
    bad_rows = table("study")
    bad_rows[1][2] = "看电影"
    bad = make_book("bad.xlsx", ledger(study=bad_rows))
    limits = dataclasses.replace(Limits(), parse_timeout_s=2.0)
    results = parse_files([str(good), str(fifo), str(good), str(bad)], str(tpl.path), limits, ingest_day)
    assert [r.status for r in results] == ["parsed", "unreadable", "parsed", "parsed"]
    assert "读取超时" in results[1].issues[0].message
    assert codes(results[2]) == [] and codes(results[3]) == ["E_VOCAB"]
