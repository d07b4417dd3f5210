"""Realistic Chinese content pools and the ledger contract tables for the demo county.

Everything here is data: the vocabularies of ledger.md §5, the column and sheet names (with their
synonyms) of §4, and pools of names, topics, problems and measures written in the style of a
county party committee (云岭县, codes ``YL``, ``YL-T01``, ``YL-T01-B003``, ``YL-D02``).

Nothing here draws random numbers by itself: the helpers take a :class:`random.Random` so the
generator stays deterministic for a seed.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

COUNTY = "云岭县"
COUNTY_SHORT = "云岭"
COUNTY_CODE = "YL"
DOC_PREFIX = "云"  # 文号 prefix: 云委发〔2023〕12号

CAMPAIGN_START = dt.date(2023, 9, 1)
CAMPAIGN_END = dt.date(2024, 1, 31)


def friday_as_of_dates() -> list[dt.date]:
    """Weekly statistic dates (统计截止日期): every Friday from November 2023 to January 2024."""
    d = dt.date(2023, 11, 3)
    out = []
    while d <= dt.date(2024, 1, 26):
        out.append(d)
        d += dt.timedelta(days=7)
    return out


AS_OF_DATES = friday_as_of_dates()

# --------------------------------------------------------------------------------------------
# §5 vocabularies: letter -> [(slug, canonical, synonyms)]
# --------------------------------------------------------------------------------------------

VOCAB: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {
    "M": [
        ("standing_committee", "常委会会议", ("常委会", "县委常委会", "县委常委会会议")),
        ("mobilization", "动员部署会", ("动员会", "动员大会", "部署会", "动员部署会议")),
        ("progress", "推进会", ("推进会议", "工作推进会", "阶段工作推进会", "推进会（阶段）")),
        ("committee", "党委会", ("党委会议", "党委（扩大）会议", "党组会", "党组会议")),
        ("party_group", "党小组会", ("党小组会议",)),
        ("branch_committee", "支委会", ("支部委员会", "支部委员会会议")),
        ("members_meeting", "党员大会", ("支部党员大会",)),
        ("life_meeting", "专题民主生活会", ("民主生活会", "专题组织生活会", "组织生活会")),
        ("other", "其他", ("其它",)),
    ],
    "P": [
        ("study", "学习教育", ("理论学习",)),
        ("research", "调查研究", ("调研",)),
        ("rectification", "检视整改", ("检视问题", "整改整治", "问题整改")),
        ("general", "综合", ("统筹", "全程")),
    ],
    "S": [
        ("reading_class", "读书班", ("专题读书班", "读书班（期）")),
        ("group_study", "集中学习", ("集体学习", "中心组学习", "理论学习中心组学习", "集中学习研讨")),
        ("seminar", "专题研讨", ("研讨交流", "交流研讨", "学习研讨")),
        ("video_seminar", "视频研讨", ("视频研讨会", "线上研讨")),
        ("exchange", "心得交流", ("交流心得", "学习心得交流", "心得体会交流")),
        ("red_education", "红色教育", ("现场教学", "红色教育活动")),
        ("contest", "读书演讲比赛", ("演讲比赛", "读书比赛", "知识竞赛")),
        ("party_lecture", "专题党课", ("党课",)),
        ("other", "其他", ("其它",)),
    ],
    "O": [
        ("offline", "线下", ("现场",)),
        ("online", "线上", ("网络",)),
        ("mixed", "线上+线下", ("线上线下", "线上线下结合", "线上＋线下")),
    ],
    "C": [
        ("county_leader", "县级领导", ("县级领导干部", "县领导")),
        ("section_cadre", "科级干部", ("科级领导干部", "科级")),
        ("other", "其他", ("一般干部", "其它")),
    ],
    "D": [
        ("politics", "政治", ("政治建设",)),
        ("economy", "经济", ("经济发展", "经济建设")),
        ("culture", "文化", ("文化建设",)),
        ("society", "社会", ("社会治理", "社会事业")),
        ("ecology", "生态文明", ("生态", "生态环保", "生态环境")),
        ("party_building", "党的建设", ("党建", "基层党建")),
        ("livelihood", "民生", ("民生保障", "民生事业")),
        ("safety", "安全稳定", ("安全", "平安建设", "安全生产")),
        ("reform", "深化改革", ("改革", "改革创新")),
        ("other", "其他", ("其它",)),
    ],
    "B": [
        ("overall", "事业全局", ("全局", "全局工作")),
        ("major_projects", "重大项目", ("项目建设", "重大项目建设")),
        ("task_delivery", "任务落实", ("工作落实", "重点任务落实")),
        ("hard_problems", "破解难题", ("难题破解", "破解发展难题")),
        ("development", "建设发展", ("发展建设", "高质量发展")),
    ],
    "R": [
        ("site_visit", "实地走访", ("走访", "实地调研", "实地察看")),
        ("forum", "现场座谈", ("座谈", "座谈会", "召开座谈会")),
        ("data_analysis", "数据分析", ("数据比对", "大数据分析")),
        ("written", "书面调研", ("书面调查", "问卷调查", "调查问卷")),
        ("unannounced", "四不两直", ("“四不两直”", "暗访")),
        ("interview", "个别访谈", ("访谈", "个别谈话")),
    ],
    "T": [
        ("not_started", "未开始", ("未启动", "待开展")),
        ("in_progress", "调研中", ("正在调研", "进行中", "开展中")),
        ("drafting", "报告修改完善中", ("修改完善中", "报告起草中", "初稿已完成", "报告撰写中")),
        ("report_formed", "已形成报告", ("已完成", "已形成调研报告", "完成", "已结题")),
    ],
    "Q": [
        ("inspection", "巡视巡察", ("巡视", "巡察", "巡视反馈", "巡察反馈", "巡视巡察反馈")),
        ("supervision", "专项督查", ("督查", "督查检查", "专项检查")),
        ("audit", "审计监督", ("审计", "审计发现")),
        ("self_review", "自我检视", ("检视查摆", "自查", "对照检视", "自身查摆")),
        ("research", "调研发现", ("调查研究", "调研")),
        ("public", "群众反映", ("群众意见", "信访", "群众来信来访")),
    ],
    "K": [
        ("immediate", "立行立改", ("立即整改", "马上改", "即知即改", "立查立改")),
        ("time_bound", "限期整改", ("限时整改", "阶段整改", "按期整改")),
        ("long_term", "长期坚持", ("长期整改", "持续整改", "长期")),
    ],
    "Z": [
        (
            "closed",
            "已整改",
            ("已完成", "已销号", "整改完成", "完成整改", "已完成整改", "已整改到位", "已办结"),
        ),
        ("in_progress", "整改中", ("正在整改", "推进中", "持续整改中", "按计划推进", "部分整改")),
        ("not_started", "未启动", ("未开始", "待整改")),
    ],
    "W": [
        ("done", "已完成", ("完成", "已落实")),
        ("in_progress", "推进中", ("正在推进", "进行中", "落实中")),
        ("not_started", "未启动", ("未开始",)),
    ],
    "G": [
        ("rule", "制度", ("制度文件", "规章制度", "长效机制")),
        ("experience", "典型经验", ("经验做法", "典型案例", "典型做法")),
    ],
    "A": [
        ("work_plan", "工作方案", ("实施方案", "具体工作方案")),
        ("task_list", "任务清单", ()),
        ("responsibility_list", "责任清单", ()),
        ("deadline_list", "时限清单", ()),
        ("progress_table", "推进表", ("推进计划表", "工作推进表", "推进计划")),
    ],
    "J": [
        ("leading_group", "领导小组", ()),
        ("office", "领导小组办公室", ("办公室",)),
        ("working_group", "工作组", ("工作小组", "专班", "工作专班")),
    ],
}

#: letter -> slug -> canonical
CANONICAL: dict[str, dict[str, str]] = {v: {s: c for s, c, _ in rows} for v, rows in VOCAB.items()}
#: letter -> slug -> synonyms
SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    v: {s: syn for s, _, syn in rows} for v, rows in VOCAB.items()
}
#: letter -> all slugs in order
SLUGS: dict[str, list[str]] = {v: [s for s, _, _ in rows] for v, rows in VOCAB.items()}

#: Values that look plausible but match no vocabulary entry (for E_VOCAB fixtures), per vocabulary.
BAD_VOCAB: dict[str, tuple[str, ...]] = {
    "M": ("座谈会议", "碰头会", "专题会议", "工作例会"),
    "P": ("全面从严治党", "组织建设"),
    "S": ("自学", "参观学习", "观看专题片"),
    "O": ("线下为主", "视频"),
    "C": ("处级干部", "村干部"),
    "D": ("组织", "农业农村"),
    "B": ("基层治理", "重点工作"),
    "R": ("蹲点", "电话调研"),
    "T": ("已结束", "准备中"),
    "Q": ("上级交办", "媒体曝光"),
    "K": ("逐步整改", "分阶段"),
    "Z": ("基本完成", "已整改大部分", "整改过半"),
    "W": ("基本完成", "持续推进"),
    "G": ("工作方案", "通知"),
    "A": ("会议纪要", "工作要点"),
    "J": ("督导组组长", "临时小组"),
}

# --------------------------------------------------------------------------------------------
# §4 tables: column specs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Col:
    """One column of a ledger table (ledger.md §4)."""

    field: str
    header: str
    synonyms: tuple[str, ...]
    required: bool
    kind: str  # text | id | date | deadline | int | vocab:X | list:X


TABLES: dict[str, list[Col]] = {
    "meetings": [
        Col("date", "会议日期", ("日期", "时间", "召开时间", "召开日期"), True, "date"),
        Col("kind", "会议类型", ("类型", "会议类别", "会议形式"), True, "vocab:M"),
        Col("topic", "会议主题", ("会议名称", "主题", "主要内容", "内容"), False, "text"),
        Col("phase", "所属环节", ("环节", "阶段", "所属阶段"), False, "vocab:P"),
        Col("attendees", "参会人数", ("参加人数", "人数", "参会人员数"), False, "int"),
    ],
    "study": [
        Col("date", "日期", ("学习日期", "时间", "开展时间", "活动日期"), True, "date"),
        Col("kind", "学习形式", ("形式", "活动类型", "学习方式", "类型"), True, "vocab:S"),
        Col("topic", "学习主题", ("主题", "学习内容", "内容"), False, "text"),
        Col("mode", "开展方式", ("线上线下", "方式"), False, "vocab:O"),
        Col("participants", "参加人数", ("参学人数", "人数", "参与人数"), False, "int"),
    ],
    "research": [
        Col("topic_id", "课题编号", ("编号",), False, "id"),
        Col("title", "课题名称", ("调研题目", "调研课题", "课题", "题目"), True, "text"),
        Col("lead", "牵头领导", ("负责领导", "牵头人", "调研人", "责任领导"), True, "text"),
        Col("lead_title", "职务", ("领导职务",), False, "text"),
        Col("cadre_class", "干部类别", ("干部层级", "层级"), False, "vocab:C"),
        Col("domain", "所属领域", ("领域", "方面", "所属方面"), True, "vocab:D"),
        Col("section", "所属版块", ("版块", "板块", "所属板块"), True, "vocab:B"),
        Col("methods", "调研方式", ("方式", "调研方法"), False, "list:R"),
        Col("places", "调研对象", ("调研地点", "调研单位"), False, "text"),
        Col("start_date", "开始日期", ("开始时间", "启动时间"), False, "date"),
        Col("status", "进展情况", ("状态", "完成情况", "进度"), True, "vocab:T"),
        Col("report_date", "报告完成日期", ("报告日期", "形成报告时间", "完成时间"), False, "date"),
    ],
    "problems": [
        Col("problem_id", "问题编号", ("编号",), True, "id"),
        Col("description", "问题描述", ("存在问题", "具体问题", "问题表现", "问题"), True, "text"),
        Col("source", "问题来源", ("来源",), True, "vocab:Q"),
        Col("kind", "整改类型", ("整改方式", "类型"), True, "vocab:K"),
        Col("owner", "责任领导", ("责任人",), False, "text"),
        Col("owner_unit", "牵头单位", ("责任单位",), False, "text"),
        Col("deadline", "整改时限", ("完成时限", "整改期限", "时限"), False, "deadline"),
        Col("status", "整改状态", ("状态", "整改情况", "整改进展"), True, "vocab:Z"),
        Col("closed_date", "销号日期", ("整改完成时间", "完成时间", "完成日期"), False, "date"),
    ],
    "measures": [
        Col("measure_id", "措施编号", ("编号",), False, "id"),
        Col("problem_id", "问题编号", ("对应问题编号", "所属问题编号"), True, "id"),
        Col("content", "整改措施", ("措施内容", "具体措施", "措施"), True, "text"),
        Col("owner", "责任人", ("责任领导",), False, "text"),
        Col("deadline", "完成时限", ("时限",), False, "deadline"),
        Col("status", "完成情况", ("状态", "进展"), True, "vocab:W"),
        Col("done_date", "完成日期", ("完成时间",), False, "date"),
    ],
    "outcomes": [
        Col("name", "名称", ("制度名称", "成果名称", "文件名称"), True, "text"),
        Col("kind", "类型", ("成果类型", "类别"), True, "vocab:G"),
        Col("date", "出台日期", ("印发日期", "形成时间", "日期"), False, "date"),
        Col("doc_no", "文号", (), False, "text"),
    ],
    "plans": [
        Col("name", "名称", ("文件名称", "方案名称"), True, "text"),
        Col("kind", "类型", ("类别",), True, "vocab:A"),
        Col("date", "印发日期", ("日期", "制定日期"), False, "date"),
        Col("target", "适用对象", ("对象",), False, "text"),
    ],
    "org": [
        Col("name", "名称", ("机构名称", "小组名称"), True, "text"),
        Col("kind", "类型", ("机构类型",), True, "vocab:J"),
        Col("head", "负责人", ("组长",), False, "text"),
        Col("members", "成员人数", ("人数",), False, "int"),
    ],
}

TABLE_ORDER = ["meetings", "study", "research", "problems", "measures", "outcomes", "plans", "org"]

#: Headers safe to use in the combined problem/measure sheet (no name shared by both halves).
COMBINED_PROBLEM_HEADERS: dict[str, tuple[str, ...]] = {
    "problem_id": ("问题编号",),
    "description": ("问题描述", "存在问题", "具体问题"),
    "source": ("问题来源", "来源"),
    "kind": ("整改类型", "整改方式"),
    "owner": ("责任领导",),
    "owner_unit": ("牵头单位", "责任单位"),
    "deadline": ("整改时限", "整改期限"),
    "status": ("整改状态", "整改进展"),
    "closed_date": ("销号日期",),
}
COMBINED_MEASURE_HEADERS: dict[str, tuple[str, ...]] = {
    "measure_id": ("措施编号",),
    "content": ("整改措施", "具体措施", "措施内容"),
    "owner": ("责任人",),
    "deadline": ("完成时限",),
    "status": ("完成情况",),
    "done_date": ("完成日期",),
}

#: Two-row header groups per table: (group label, fields under it). Labels follow real templates;
#: 整改情况 over 整改状态|销号日期 is the spec's own example.
HEADER_GROUPS: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "meetings": [("会议基本情况", ("topic", "attendees")), ("会议概况", ("kind", "phase"))],
    "study": [("学习开展情况", ("topic", "mode", "participants")), ("活动概况", ("kind", "mode"))],
    "research": [
        ("课题进展", ("status", "report_date")),
        ("牵头领导信息", ("lead", "lead_title", "cadre_class")),
        ("调研安排", ("methods", "places", "start_date")),
    ],
    "problems": [("整改情况", ("status", "closed_date")), ("责任落实", ("owner", "owner_unit", "deadline"))],
    "measures": [("责任落实", ("owner", "deadline")), ("落实进度", ("status", "done_date"))],
    "outcomes": [("出台情况", ("date", "doc_no"))],
    "plans": [("印发情况", ("date", "target"))],
    "org": [("组成情况", ("head", "members"))],
}

#: Sheet names per table: canonical first, then synonyms (§4).
SHEET_NAMES: dict[str, tuple[str, ...]] = {
    "info": ("填报信息", "基本信息", "单位信息", "封面"),
    "meetings": ("会议", "会议台账", "会议活动", "会议记录", "会议情况"),
    "study": ("学习", "学习台账", "学习教育", "理论学习", "学习活动"),
    "research": ("调研课题", "调研课题清单", "调研台账", "调研", "课题"),
    "problems": ("问题清单", "检视问题清单", "问题台账", "查摆问题"),
    "measures": ("整改措施", "整改措施清单", "措施"),
    "outcomes": ("制度成果", "制度建设", "成果清单", "长效机制", "建章立制"),
    "plans": ("工作部署", "工作方案", "方案清单", "部署"),
    "org": ("工作机构", "领导小组", "工作专班", "组织机构"),
}
COMBINED_SHEET_NAMES = ("问题整改台账", "问题清单及整改措施", "检视问题及整改措施清单", "问题及整改措施台账")
#: Tables whose headers are distinctive enough for a sheet renamed ``Sheet1`` to be found by header.
HEADER_DETECTABLE = ("meetings", "study", "research", "problems", "measures")

TABLE_TITLES = {
    "meetings": "会议台账",
    "study": "学习台账",
    "research": "调研课题清单",
    "problems": "检视问题清单",
    "measures": "整改措施清单",
    "outcomes": "制度成果清单",
    "plans": "工作部署清单",
    "org": "工作机构",
    "combined": "检视问题及整改措施清单",
}

#: Columns that match no field (W_EXTRA_COLUMN) and plausible values for them.
EXTRA_COLUMNS: dict[str, tuple[str, ...]] = {
    "佐证材料": ("见附件", "会议记录、照片", "签到表", "已上传", "学习笔记"),
    "审核意见": ("同意", "已审核", "请补充佐证材料", "通过"),
    "录入人": ("王芳", "李娜", "张伟", "刘洋", "陈静"),
    "备注": ("", "已归档", "补录", "党员活动室", "见附件"),
    "资料归档": ("是", "已归档", "待归档"),
}

#: (field, canonical label, synonyms) for the 填报信息 sheet (§4.1).
INFO_LABELS: list[tuple[str, str, tuple[str, ...]]] = [
    ("unit_code", "单位代码", ("组织代码", "党组织代码")),
    ("unit_name", "单位名称", ("填报单位", "党组织名称", "单位")),
    ("as_of", "统计截止日期", ("截止日期", "统计截止时间", "数据截止日期", "填报日期")),
    ("reporter", "填报人", ("联系人",)),
    ("phone", "联系电话", ("电话",)),
    ("members", "党员人数", ("党员总数", "本单位党员数")),
    ("members_with_plan", "制定个人学习计划人数", ("个人学习计划数", "制定学习计划人数")),
]
INFO_FIELDS = [f for f, _, _ in INFO_LABELS]

# --------------------------------------------------------------------------------------------
# People, places, units
# --------------------------------------------------------------------------------------------

SURNAMES = (
    "李王张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴"
    "夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建文辉力鹏飞斌宇浩凯俊峰亮云燕琳晶雪梅倩婷"
    "志国海林波宁东春晓丹阳颖慧嘉琪子晨欣怡佳鑫昊然瑞祥福荣德兴旺成安永胜利远才发"
)

# Syllables for township and village names (two syllables + 镇/乡, village + 村/社区).
_TOWN_SYL = (
    "龙凤松柏清溪金沙石桥白马青云黄坪河湾高桥新华长岭大坪东山西岭南屏北坡三合双河马街草坝太平永和"
    "兴隆德胜安乐普洱勐腊澜沧碧江鹤庆剑川洱源宾川弥渡巍山漾濞祥云鸡足宝山铜厂银厂小湾旧州营盘"
)
_VILLAGE_SYL = (
    "张家李家王家杨柳桃源梨花竹林松林新村中和上营下营大村小村河头河尾坡头岭脚田坝水井龙潭石门"
    "黄泥红岩白沙青龙凤山太和团结胜利光明向阳民主和平复兴富民利民兴农丰收"
)

TOWN_SYL = tuple(_TOWN_SYL[i : i + 2] for i in range(0, len(_TOWN_SYL) - 1, 2))
VILLAGE_SYL = tuple(_VILLAGE_SYL[i : i + 2] for i in range(0, len(_VILLAGE_SYL) - 1, 2))

DEPARTMENTS = (
    "县委办公室",
    "县政府办公室",
    "县委组织部",
    "县委宣传部",
    "县委统战部",
    "县委政法委",
    "县纪委监委",
    "县教育体育局",
    "县卫生健康局",
    "县财政局",
    "县自然资源局",
    "县住房和城乡建设局",
    "县交通运输局",
    "县农业农村局",
    "县水务局",
    "县文化和旅游局",
    "县市场监督管理局",
    "县应急管理局",
    "县医疗保障局",
    "县民政局",
    "县人力资源和社会保障局",
    "县公安局",
    "县司法局",
    "县林业和草原局",
    "县发展和改革局",
    "县工业信息化和商务局",
    "县统计局",
    "县审计局",
    "县信访局",
    "县退役军人事务局",
    "县乡村振兴局",
    "县供销合作社",
    "县人民医院",
    "县第一中学",
    "县融媒体中心",
    "县人大常委会机关",
    "县政协机关",
    "县人民法院",
    "县人民检察院",
    "县总工会",
    "团县委",
    "县妇联",
    "县工商联",
    "县政务服务管理局",
    "县投资促进局",
    "县生态环境分局",
    "县气象局",
    "县烟草专卖局",
    "县税务局",
    "县消防救援大队",
)

BRANCH_KINDS_TOWN = ("机关", "中心学校", "卫生院", "林业站", "农业服务中心", "派出所")
COMMUNITY_SUFFIX = ("村", "村", "村", "村", "社区")

PLACES = (
    "农户家中",
    "各村（社区）",
    "重点企业",
    "重点项目工地",
    "县政务服务中心",
    "县第一中学",
    "乡镇卫生院",
    "农民专业合作社",
    "易地扶贫搬迁安置点",
    "工业园区",
    "便民服务中心",
    "养老服务中心",
    "产业基地",
    "中小学校",
    "田间地头",
    "集贸市场",
)

# --------------------------------------------------------------------------------------------
# Activity content
# --------------------------------------------------------------------------------------------

MEETING_TOPICS: dict[str, tuple[str, ...]] = {
    "standing_committee": (
        "传达学习主题教育工作会议精神",
        "研究部署第二批主题教育工作",
        "审议{unit}第二批主题教育实施方案",
        "听取主题教育阶段性工作情况汇报",
        "研究检视问题清单和整改措施",
        "专题学习习近平总书记关于调查研究的重要论述",
    ),
    "mobilization": (
        "{unit}第二批主题教育动员部署会",
        "主题教育工作部署会",
        "检视整改工作动员部署会",
        "调查研究工作部署会",
    ),
    "progress": ("主题教育阶段工作推进会", "调查研究工作推进会", "检视整改工作推进会", "主题教育工作调度会"),
    "committee": (
        "研究主题教育实施方案",
        "传达学习主题教育工作会议精神",
        "研究调研课题和检视问题",
        "研究部署为民办实事项目",
        "审议主题教育整改整治方案",
    ),
    "party_group": ("学习交流主题教育心得体会", "开展集中学习研讨", "交流学习《习近平著作选读》体会"),
    "branch_committee": ("研究主题教育学习安排", "研究检视问题清单", "研究制定支部主题教育计划"),
    "members_meeting": ("通报检视整改情况", "开展集中学习研讨", "传达上级主题教育部署要求"),
    "life_meeting": (
        "主题教育专题民主生活会",
        "主题教育专题组织生活会",
        "召开专题组织生活会开展批评和自我批评",
    ),
    "other": ("主题教育工作座谈会", "主题教育征求意见座谈会", "主题教育工作碰头会"),
}

STUDY_TOPICS = (
    "学习《习近平新时代中国特色社会主义思想专题摘编》",
    "学习《习近平著作选读》第一卷",
    "学习《习近平著作选读》第二卷",
    "学习习近平总书记关于调查研究的重要论述",
    "学习党的二十大报告",
    "学习《中国共产党章程》",
    "学习习近平总书记关于乡村振兴的重要论述",
    "学习习近平总书记关于党的建设的重要思想",
    "学习习近平总书记在主题教育工作会议上的重要讲话",
    "学习习近平生态文明思想",
    "学习习近平总书记关于基层治理的重要论述",
    "学习《习近平关于调查研究论述摘编》",
    "学习《中国共产党纪律处分条例》",
    "学习习近平总书记关于铸牢中华民族共同体意识的重要论述",
    "观看《榜样7》专题节目",
    "深入学习贯彻新时代党的组织路线",
)

RESEARCH_SUBJECTS: tuple[tuple[str, str], ...] = (
    ("持续优化营商环境", "economy"),
    ("县域经济高质量发展", "economy"),
    ("特色农产品品牌培育", "economy"),
    ("壮大村级集体经济", "economy"),
    ("招商引资项目落地", "economy"),
    ("文旅融合发展", "culture"),
    ("传统村落保护利用", "culture"),
    ("公共文化服务体系建设", "culture"),
    ("基层社会治理网格化管理", "society"),
    ("矛盾纠纷多元化解", "society"),
    ("返乡创业就业服务", "society"),
    ("生态保护修复与绿色发展", "ecology"),
    ("农村人居环境整治提升", "ecology"),
    ("河湖长制落实", "ecology"),
    ("基层党组织标准化规范化建设", "party_building"),
    ("发展壮大党员队伍", "party_building"),
    ("干部担当作为激励机制", "party_building"),
    ("基层减负", "party_building"),
    ("义务教育优质均衡发展", "livelihood"),
    ("县域医疗资源优化配置", "livelihood"),
    ("农村养老服务体系建设", "livelihood"),
    ("防止规模性返贫动态监测", "livelihood"),
    ("中小学课后服务质量", "livelihood"),
    ("安全生产隐患排查治理", "safety"),
    ("食品药品安全监管", "safety"),
    ("森林防火责任落实", "safety"),
    ("深化“放管服”改革", "reform"),
    ("农村集体产权制度改革", "reform"),
    ("林业产权制度改革", "reform"),
    ("意识形态工作责任制落实", "politics"),
    ("全面从严治党主体责任落实", "politics"),
    ("民族团结进步示范创建", "politics"),
)

LEAD_TITLES = {
    "county": (
        "县委书记",
        "县长",
        "县委副书记",
        "县委常委、常务副县长",
        "县委常委、组织部部长",
        "副县长",
        "县人大常委会主任",
    ),
    "township": ("党委书记", "镇长", "乡长", "党委副书记", "纪委书记", "组织委员", "人大主席", "副镇长"),
    "department": ("党组书记、局长", "局长", "党组成员、副局长", "副局长", "院长", "校长"),
    "branch": ("支部书记", "村委会主任", "支部副书记", "组织委员", "第一书记"),
}

PROBLEMS: tuple[tuple[str, str], ...] = (
    ("理论学习不够深入系统，存在学用脱节现象", "self_review"),
    ("运用党的创新理论指导实践的能力不足", "self_review"),
    ("调查研究不够深入，掌握基层一线情况不够全面", "self_review"),
    ("工作作风不够扎实，抓落实的韧劲不足", "supervision"),
    ("干部担当作为意识不强，遇到难题绕着走", "self_review"),
    ("基层减负措施落实不够到位，文山会海问题仍有反弹", "supervision"),
    ("村级财务管理不够规范，公开不够及时", "audit"),
    ("专项资金使用绩效不高，项目推进缓慢", "audit"),
    ("集体经济收入偏低，发展路子不宽", "research"),
    ("群众办事来回跑现象仍然存在", "public"),
    ("农村人居环境整治存在死角盲区", "public"),
    ("意识形态工作责任制落实不够到位", "inspection"),
    ("基层党组织建设存在薄弱环节，组织生活不够规范", "inspection"),
    ("为民办实事台账管理不够精细", "supervision"),
    ("执法规范化水平有待提高", "public"),
    ("安全生产监管存在薄弱环节", "supervision"),
    ("惠民政策宣传不到位，群众知晓率不高", "research"),
    ("党员教育管理不够严格，流动党员管理存在盲区", "inspection"),
    ("“三会一课”制度落实不够严格", "inspection"),
    ("防返贫动态监测帮扶机制落实不够精准", "research"),
    ("矛盾纠纷排查化解不够及时", "public"),
    ("干部队伍年龄结构不够合理，后备力量不足", "self_review"),
)

OWNER_UNITS = (
    "党政办",
    "组织办",
    "社会事务办",
    "财政所",
    "村（社区）",
    "机关支部",
    "综合执法队",
    "经济发展办",
    "农业服务中心",
    "便民服务中心",
    "办公室",
    "组织人事股",
    "财务股",
    "业务股",
)

MEASURES = (
    "制定专题学习计划，每月开展集中学习不少于2次",
    "建立领导干部基层联系点制度，定期开展蹲点调研",
    "完善工作制度，明确责任分工和完成时限",
    "开展“回头看”，防止问题反弹",
    "建立周调度、月通报工作机制",
    "精简会议文件，严控发文数量",
    "规范村级财务公开，每季度公开一次",
    "落实“三会一课”制度，规范组织生活",
    "组织专题培训，提升干部业务能力",
    "建立为民办实事清单，逐项跟踪落实",
    "推行“一窗通办”，压减审批时限",
    "开展隐患排查整治专项行动",
    "健全防返贫监测预警机制",
    "建立长效管护机制，落实网格化管理",
    "组织党员到红色教育基地开展现场教学",
    "公开整改情况，接受群众监督",
    "制定集体经济发展三年行动计划",
    "开展流动党员集中排查，建立动态管理台账",
    "加强政策宣传，入户发放明白卡",
    "建立矛盾纠纷定期排查机制",
)

OUTCOME_RULES = (
    "关于建立领导干部基层联系点制度的通知",
    "为民办实事长效机制",
    "村级财务管理办法",
    "基层减负若干措施",
    "调查研究工作制度",
    "干部担当作为激励办法",
    "党员积分制管理办法",
    "矛盾纠纷多元化解工作机制",
    "重点项目周调度制度",
    "“三会一课”规范化实施细则",
)
OUTCOME_EXPERIENCES = (
    "“党建+网格”基层治理典型经验",
    "流动党员“线上课堂”典型案例",
    "“四下基层”走访群众经验做法",
    "集体经济“清零”攻坚典型做法",
    "“一线工作法”破解发展难题典型案例",
)
DOC_KINDS = ("委发", "办发", "组发", "政办发", "党发")

PLAN_ITEMS: tuple[tuple[str, str], ...] = (
    ("{unit}第二批主题教育实施方案", "work_plan"),
    ("{unit}主题教育学习教育具体工作方案", "work_plan"),
    ("{unit}主题教育调查研究具体工作方案", "work_plan"),
    ("{unit}主题教育检视整改具体工作方案", "work_plan"),
    ("{unit}主题教育任务清单", "task_list"),
    ("{unit}党委书记抓主题教育责任清单", "responsibility_list"),
    ("{unit}主题教育时限清单", "deadline_list"),
    ("{unit}主题教育工作推进表", "progress_table"),
)
PLAN_TARGETS = ("全体党员", "领导班子成员", "全体党员干部", "各党支部", "班子成员及中层干部")

ORG_ITEMS: tuple[tuple[str, str], ...] = (
    ("{unit}主题教育领导小组", "leading_group"),
    ("{unit}主题教育领导小组办公室", "office"),
    ("综合协调组", "working_group"),
    ("学习指导组", "working_group"),
    ("调研督导组", "working_group"),
    ("整改落实组", "working_group"),
    ("宣传报道组", "working_group"),
)

INSTRUCTIONS = (
    "填表说明",
    "1. 本台账为累计台账，每周五下班前更新后报送，请勿删除已填报内容。",
    "2. 日期统一填写为“2023-09-15”格式；人数填写阿拉伯数字。",
    "3. 会议类型、学习形式等请从下拉菜单中选择，不得自行修改选项。",
    "4. 一个问题对应多条整改措施的，措施应逐条填写，并注明对应的问题编号。",
    "5. 调研课题已形成报告的，须填写报告完成日期；问题已整改的，须填写销号日期。",
    "6. 如有疑问请联系县委主题教育办公室，电话：0883-6123456。",
)

NOTES_BELOW = (
    "填表说明：1.本表为累计台账；2.日期请按“2023-09-15”格式填写；3.类型请从下拉菜单选择。",
    "注：本表由各党组织每周五前报送县委主题教育办公室。",
    "说明：已整改问题须填写销号日期。",
    "备注：佐证材料另行报送。",
)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def person(rng: random.Random) -> str:
    """A plausible Chinese personal name (2 or 3 characters)."""
    name = rng.choice(SURNAMES) + rng.choice(GIVEN)
    if rng.random() < 0.6:
        name += rng.choice(GIVEN)
    return name


def phone(rng: random.Random) -> str:
    """A mobile number, sometimes a county landline (0883-xxxxxxx)."""
    if rng.random() < 0.15:
        return f"0883-{rng.randint(6100000, 6999999)}"
    prefix = rng.choice(
        (
            "133",
            "135",
            "136",
            "138",
            "139",
            "150",
            "151",
            "152",
            "157",
            "158",
            "159",
            "177",
            "180",
            "187",
            "189",
        )
    )
    return prefix + "".join(str(rng.randint(0, 9)) for _ in range(8))


def doc_number(rng: random.Random, year: int = 2023) -> str:
    """A document number like 云委发〔2023〕12号."""
    return f"{DOC_PREFIX}{rng.choice(DOC_KINDS)}〔{year}〕{rng.randint(1, 120)}号"


_CN_DIGITS = "零一二三四五六七八九"


def chinese_numeral(n: int) -> str:
    """Write 0 <= n < 100000 in Chinese numerals: 三十, 二十七, 一百零五, 一千零二十."""
    if n < 0 or n >= 100000:
        raise ValueError(n)
    if n < 10:
        return _CN_DIGITS[n]
    if n < 20:
        return "十" + (_CN_DIGITS[n - 10] if n > 10 else "")
    units = [(10000, "万"), (1000, "千"), (100, "百"), (10, "十"), (1, "")]
    out = []
    zero = False
    started = False
    for size, name in units:
        d = n // size
        n %= size
        if d:
            if zero and started:
                out.append("零")
            out.append(_CN_DIGITS[d] + name)
            zero = False
            started = True
        elif started:
            zero = True
    return "".join(out)


def fullwidth_digits(text: str) -> str:
    """Turn ASCII digits into full-width digits (30 -> ３０)."""
    return text.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"})
