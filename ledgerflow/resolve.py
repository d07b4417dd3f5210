"""Resolution, per run (ledger.md §2–§4.1): which unit each workbook reports for, whether its
upload folder may report for that unit, duplicates, and the verdict (accepted or rejected).

Parsing depends only on a file's bytes and is kept by sha256; this step depends on the registry
and on where the file lies, so it runs every time (it is cheap: one pass over the files).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ledgerflow.discover import FileRef
from ledgerflow.registry import Registry, norm_code
from ledgerflow.template import Template, squash


@dataclass
class Resolution:
    files: list[dict[str, Any]] = field(default_factory=list)
    issues: list[dict[str, Any]] = field(default_factory=list)


def _row_of(cell: str) -> int | None:
    digits = "".join(ch for ch in cell or "" if ch.isdigit())
    return int(digits) if digits else None


def _info_issue(info: dict[str, Any], code: str, column: str, cell: str, value: str, message: str) -> dict:
    """An issue located at a 填报信息 cell."""
    return dict(
        code=code,
        sheet=info.get("info_sheet") or "",
        row=_row_of(cell),
        column=column,
        cell=cell,
        value=value,
        message=message,
    )


def identify(info: dict[str, Any], registry: Registry, tpl: Template) -> tuple[str | None, list[dict]]:
    """(unit code or None, issues) from the 填报信息 fields: code first, else name or alias."""
    written_code = info.get("unit_code") or ""
    code = norm_code(written_code)
    name = info.get("unit_name") or ""
    if code:
        unit = registry.units.get(code)
        if unit is None:
            msg = tpl.message("E_UNIT_UNKNOWN", code=written_code, name=name)
            return None, [
                _info_issue(
                    info, "E_UNIT_UNKNOWN", "单位代码", info.get("unit_code_cell") or "", written_code, msg
                )
            ]
        if name and squash(name) not in {squash(n) for n in (unit.name, *unit.aliases)}:
            msg = tpl.message("W_UNIT_NAME", name=name, code=unit.code, registry_name=unit.name)
            return unit.code, [
                _info_issue(info, "W_UNIT_NAME", "单位名称", info.get("unit_name_cell") or "", name, msg)
            ]
        return unit.code, []
    found = registry.by_name().get(squash(name)) if name else None
    if found is None:
        cell = info.get("unit_name_cell") or info.get("unit_code_cell") or ""
        msg = tpl.message("E_UNIT_UNKNOWN", code="", name=name)
        return None, [_info_issue(info, "E_UNIT_UNKNOWN", "单位名称", cell, name, msg)]
    return found, []


def resolve(
    files: list[FileRef],
    parsed: dict[str, dict[str, Any]],
    content_issues: dict[str, list[dict[str, Any]]],
    path_first_seen: dict[tuple[str, str], int],
    registry: Registry,
    tpl: Template,
) -> Resolution:
    out = Resolution()
    groups: dict[str, list[FileRef]] = {}
    for f in files:
        if f.kind == "workbook":
            groups.setdefault(f.sha256, []).append(f)
    original = {}
    for sha, fs in groups.items():
        # Among byte-identical copies the original is the first seen, then the first by path --
        # but a copy whose folder may report for the unit comes first, so that a copy dropped in
        # a folder without the right cannot shadow the owner's own upload.
        p = parsed.get(sha, {})
        unit = identify(p, registry, tpl)[0] if p.get("status") == "parsed" else None

        def allowed(f: FileRef, unit=unit) -> bool:
            return unit is None or registry.is_within(unit, f.submitter)

        fs.sort(key=lambda f, sha=sha: (not allowed(f), path_first_seen.get((f.path, sha), 1 << 30), f.path))
        original[sha] = fs[0].path
    for f in files:
        row: dict[str, Any] = dict(
            path=f.path,
            sha256=f.sha256 or None,
            size=f.size,
            submitter=f.submitter or None,
            kind=f.kind,
            reason=f.reason or None,
            unit_code=None,
            charged_unit=None,
            verdict=None,
            errors=0,
            warnings=0,
        )
        out.files.append(row)
        if f.kind == "ignored":
            row["verdict"] = "ignored"
            continue
        p = parsed.get(f.sha256, {})
        if original[f.sha256] != f.path:
            row["verdict"] = "duplicate"
            if p.get("status") == "parsed":
                code, _ = identify(p, registry, tpl)
                row["unit_code"] = code
            continue
        issues = [dict(i) for i in content_issues.get(f.sha256, [])]
        if not p:  # its bytes changed after it was listed and were read as another file's
            detail = "读取时文件内容已与列出时不同（上传尚未完成或被替换），将在下次运行时重新读取"
            issues = [dict(code="E_FILE_UNREADABLE", message=tpl.message("E_FILE_UNREADABLE", detail=detail))]
        unit = None
        if p.get("status") == "parsed":
            unit, extra = identify(p, registry, tpl)
            issues.extend(extra)
            if unit is not None and not registry.is_within(unit, f.submitter):
                issues.append(
                    dict(
                        code="E_UNIT_FORBIDDEN",
                        sheet=p.get("info_sheet") or "",
                        row=_row_of(p.get("unit_code_cell") or ""),
                        column="单位代码",
                        cell=p.get("unit_code_cell") or "",
                        value=unit,
                        message=tpl.message(
                            "E_UNIT_FORBIDDEN",
                            unit=f"{unit} {registry.units[unit].name}",
                            submitter=f.submitter,
                        ),
                    )
                )
        errors = sum(1 for i in issues if i["code"].startswith("E_"))
        row["unit_code"] = unit
        row["errors"] = errors
        row["warnings"] = len(issues) - errors
        row["verdict"] = "rejected" if errors else "accepted"
        forbidden = any(i["code"] == "E_UNIT_FORBIDDEN" for i in issues)
        row["charged_unit"] = unit if (unit is not None and not forbidden) else f.submitter
        for i in issues:
            out.issues.append(
                dict(
                    path=f.path,
                    sha256=f.sha256,
                    unit_code=unit,
                    sheet=i.get("sheet") or "",
                    row=i.get("row"),
                    column=i.get("column") or "",
                    cell=i.get("cell") or "",
                    code=i["code"],
                    severity="error" if i["code"].startswith("E_") else "warning",
                    message=i.get("message") or "",
                    value=i.get("value") or "",
                )
            )
    return out
