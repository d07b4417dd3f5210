"""A clean ledger as plain lists (the template's own headers, row 1 = header), to be written by
``make_book`` and then broken in exactly one way per test.

Every value here is valid and inside the campaign window, every date on or before the 统计截止日期
2023-12-15, every problem has a measure and every closed item its date: parsed, it yields no issue.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import date
from typing import Any


@dataclass(frozen=True)
class Formula:
    """A formula cell: ``make_book`` writes ``value`` as its cached result with xlsxwriter; openpyxl
    writes no result at all."""

    formula: str
    value: Any = None


UNIT_CODE = "QX-T01"
UNIT_NAME = "城关镇党委"
AS_OF = date(2023, 12, 15)

HEAD = {
    "meetings": ["序号", "会议日期", "会议类型", "会议主题", "所属环节", "参会人数"],
    "study": ["序号", "日期", "学习形式", "学习主题", "开展方式", "参加人数"],
    "research": [
        "序号",
        "课题编号",
        "课题名称",
        "牵头领导",
        "职务",
        "干部类别",
        "所属领域",
        "所属版块",
        "调研方式",
        "调研对象",
        "开始日期",
        "进展情况",
        "报告完成日期",
    ],
    "problems": [
        "序号",
        "问题编号",
        "问题描述",
        "问题来源",
        "整改类型",
        "责任领导",
        "牵头单位",
        "整改时限",
        "整改状态",
        "销号日期",
    ],
    "measures": ["序号", "措施编号", "问题编号", "整改措施", "责任人", "完成时限", "完成情况", "完成日期"],
    "outcomes": ["序号", "名称", "类型", "出台日期", "文号"],
    "plans": ["序号", "名称", "类型", "印发日期", "适用对象"],
    "org": ["序号", "名称", "类型", "负责人", "成员人数"],
}

SHEET = {
    "meetings": "会议",
    "study": "学习",
    "research": "调研课题",
    "problems": "问题清单",
    "measures": "整改措施",
    "outcomes": "制度成果",
    "plans": "工作部署",
    "org": "工作机构",
}

ROWS = {
    "meetings": [
        [1, date(2023, 9, 20), "党委会", "传达学习动员部署", "学习教育", 25],
        [2, date(2023, 11, 8), "推进会", "检视整改推进", "检视整改", 40],
    ],
    "study": [
        [1, date(2023, 10, 10), "读书班", "专题读书班第一期", "线下", 30],
        [2, date(2023, 10, 24), "集中学习", "理论学习中心组", "线上", 12],
    ],
    "research": [
        [
            1,
            "KT-01",
            "乡村振兴调研",
            "李四",
            "党委书记",
            "科级干部",
            "经济",
            "建设发展",
            "实地走访、座谈",
            "各村",
            date(2023, 9, 25),
            "已形成报告",
            date(2023, 11, 30),
        ],
    ],
    "problems": [
        [
            1,
            "WT-01",
            "理论学习不够深入",
            "自我检视",
            "限期整改",
            "王五",
            "党政办",
            date(2023, 12, 31),
            "已整改",
            date(2023, 11, 20),
        ],
        [2, "WT-02", "调查研究不够扎实", "巡察", "长期坚持", "王五", "党政办", "长期坚持", "整改中", None],
    ],
    "measures": [
        [1, "CS-01", "WT-01", "制定个人学习计划", "王五", date(2023, 11, 30), "已完成", date(2023, 11, 20)],
        [2, "CS-02", "WT-02", "建立调研工作制度", "赵六", "长期", "推进中", None],
    ],
    "outcomes": [[1, "调查研究工作制度", "制度", date(2023, 11, 1), "城委发〔2023〕5号"]],
    "plans": [[1, "主题教育实施方案", "工作方案", date(2023, 9, 5), "全体党员"]],
    "org": [[1, "主题教育领导小组", "领导小组", "张书记", 9]],
}


def info_rows(
    code: str | None = UNIT_CODE, name: str | None = UNIT_NAME, as_of=AS_OF, members=40, plan=38
) -> list[list]:
    """The 填报信息 sheet, labels beside their values."""
    return [
        ["主题教育工作台账 填报信息"],
        ["单位代码", code],
        ["单位名称", name],
        ["统计截止日期", as_of],
        ["填报人", "张三"],
        ["联系电话", "0791-1234567"],
        ["党员人数", members],
        ["制定个人学习计划人数", plan],
    ]


def table(name: str, rows: list[list] | None = None, head: list | None = None) -> list[list]:
    """A table sheet: its header in row 1, then ``rows`` (the clean rows by default)."""
    return [list(head or HEAD[name])] + copy.deepcopy(ROWS[name] if rows is None else rows)


def ledger(**replace: list[list] | None) -> dict[str, list[list]]:
    """The whole clean workbook as {sheet name: rows}; ``replace`` swaps a table's sheet (by table
    name, e.g. ``problems=[...]``) or drops it (``None``); ``info=`` swaps the 填报信息 rows."""
    sheets: dict[str, list[list]] = {"填报信息": replace.pop("info", None) or info_rows()}
    for name, sheet in SHEET.items():
        if name in replace:
            if replace[name] is not None:
                sheets[sheet] = replace[name]
        else:
            sheets[sheet] = table(name)
    return sheets


def found(parsed, code: str) -> list:
    """The issues of one code."""
    return [i for i in parsed.issues if i.code == code]


def codes(parsed) -> list[str]:
    return sorted(i.code for i in parsed.issues)


def only(parsed, code: str):
    """The one issue of the parse, which must have that code."""
    assert [i.code for i in parsed.issues] == [code], [(i.code, i.cell, i.message) for i in parsed.issues]
    return parsed.issues[0]
