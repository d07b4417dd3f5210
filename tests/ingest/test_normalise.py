"""Cell values (ledger.md §6, §5): every date form, deadlines, integers, vocabularies and list cells.

Expected values come from the contract: the campaign window is 2023-09-01..2024-01-31, so a date
without a year is in 2023 for September..December and in 2024 for January; Excel serials count
days from 1899-12-30."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledgerflow import normalise as nz

SEP15 = date(2023, 9, 15)
SERIAL_SEP15 = (SEP15 - date(1899, 12, 30)).days  # Excel's day count for 2023-09-15


# ---- dates -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cell",
    [
        SEP15,  # a date cell
        datetime(2023, 9, 15, 14, 30),  # a date-time keeps its date
        SERIAL_SEP15,  # serial in a number cell
        float(SERIAL_SEP15),
        str(SERIAL_SEP15),  # serial in a text cell
        "2023-09-15",
        "2023/9/15",
        "2023.9.15",
        "2023-9-15",
        "2023年9月15日",
        "2023年09月15日",
        "２０２３年９月１５日",  # full-width digits
        " 2023年 9月15日\u3000",  # stray spaces
        "20230915",
        20230915,  # yyyymmdd typed into a number cell
        "9月15日",
        "9.15",
        9.15,  # "9.15" typed into a number cell
        "2023-09-15 14:30:00",  # text date-time
        "2023年9月15日 10:00",
    ],
)
def test_every_date_form_reads_as_15_september_2023(tpl, cell):
    assert nz.to_date(cell, tpl) == (SEP15, None)


@pytest.mark.parametrize(
    "cell, expected",
    [
        ("1月5日", date(2024, 1, 5)),  # January belongs to 2024 in the campaign window
        ("1.10", date(2024, 1, 10)),
        ("12.31", date(2023, 12, 31)),
        ("10月1日", date(2023, 10, 1)),
    ],
)
def test_a_date_without_year_takes_the_year_of_the_campaign_window(tpl, cell, expected):
    assert nz.to_date(cell, tpl) == (expected, None)


@pytest.mark.parametrize(
    "cell",
    ["2023年13月5日", "2月30日", "2023-02-30", "2023.13.1", "abc", "下周一", "2023年12月", "12月底", "年底"],
)
def test_a_date_naming_no_real_day_is_a_problem(tpl, cell):
    # months, 12月底 and 年底 are deadlines only (§6), not dates
    value, problem = nz.to_date(cell, tpl)
    assert value is None and problem


@pytest.mark.parametrize("cell", [None, "", "   ", "\u3000", "\n"])
def test_an_empty_date_cell_is_empty_not_a_problem(tpl, cell):
    assert nz.to_date(cell, tpl) == (None, None)


# ---- deadlines ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cell, expected",
    [
        ("2023年12月", date(2023, 12, 31)),
        ("2023年12月底", date(2023, 12, 31)),
        ("12月底", date(2023, 12, 31)),
        ("1月底", date(2024, 1, 31)),
        ("11月", date(2023, 11, 30)),
        ("年底", date(2023, 12, 31)),
        ("9月30日前", date(2023, 9, 30)),
        ("12月底前", date(2023, 12, 31)),
        ("年底前", date(2023, 12, 31)),
        ("2023年11月15日之前", date(2023, 11, 15)),
        ("2023-11-30", date(2023, 11, 30)),
        (date(2023, 11, 30), date(2023, 11, 30)),
        ("2023年12月底前，长期坚持", date(2023, 12, 31)),  # a date beside 长期坚持 is kept
        ("长期坚持（2023年11月30日前）", date(2023, 11, 30)),
        ("长期", None),
        ("长期坚持", None),
        (" 长期坚持。", None),
        (None, None),
        ("", None),
    ],
)
def test_deadline_forms(tpl, cell, expected):
    assert nz.to_deadline(cell, tpl) == (expected, None)


@pytest.mark.parametrize("cell", ["13月底", "2月30日前", "尽快", "年底前完成"])
def test_an_unreadable_deadline_is_a_problem(tpl, cell):
    value, problem = nz.to_deadline(cell, tpl)
    assert value is None and problem


# ---- integers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cell, expected",
    [
        (30, 30),
        (30.0, 30),
        ("30", 30),
        ("３０", 30),
        ("30人", 30),
        ("30 人次", 30),
        ("１２名", 12),
        ("三十", 30),
        ("二十七", 27),
        ("一百零五", 105),
        ("一百零五人", 105),
        ("12场", 12),
        ("3篇", 3),
        ("二十七人", 27),
        (0, 0),
        ("零", 0),
    ],
)
def test_integer_forms(tpl, cell, expected):
    assert nz.to_int(cell, tpl) == (expected, None)


@pytest.mark.parametrize(
    "cell",
    [
        12.5,
        "12.5",
        -3,
        "-3",
        "abc",
        "三十多",
        "约30",
        True,
        1e20,
        10**30,
        "9" * 5000,
        float("inf"),
        float("nan") if False else "五点五",
    ],
)
def test_not_an_integer_ge_0_is_a_problem(tpl, cell):
    value, problem = nz.to_int(cell, tpl)
    assert value is None and problem


def test_an_empty_integer_cell_is_empty(tpl):
    assert nz.to_int(None, tpl) == (None, None)
    assert nz.to_int(" ", tpl) == (None, None)


# ---- vocabularies and lists --------------------------------------------------------------------


@pytest.mark.parametrize(
    "voc, cell, slug",
    [
        ("M", "党委会", "committee"),
        ("M", " 党委会 ", "committee"),
        ("M", "党\u3000委\u3000会", "committee"),  # full-width spaces inside
        ("M", "党委会。", "committee"),  # trailing 。
        ("M", "党委会\n", "committee"),
        ("M", "党委（扩大）会议", "committee"),  # synonym, full-width brackets
        ("M", "党委(扩大)会议", "committee"),  # the same with half-width brackets
        ("M", "县委常委会", "standing_committee"),
        ("O", "线上＋线下", "mixed"),
        ("O", "线上+线下", "mixed"),
        ("Z", "已整改到位。", "closed"),
        ("Z", "已 销 号", "closed"),
        ("R", "“四不两直”", "unannounced"),
        ("K", "长期", "long_term"),
        ("J", "工作专班", "working_group"),
        ("T", "初稿已完成", "drafting"),
    ],
)
def test_vocabulary_values_match_after_normalisation(tpl, voc, cell, slug):
    assert nz.to_vocab(cell, tpl.vocabularies[voc]) == (slug, None)


@pytest.mark.parametrize("voc, cell", [("M", "开会"), ("Z", "差不多了"), ("M", 1), ("D", "经济社会")])
def test_a_value_outside_the_vocabulary_is_a_problem(tpl, voc, cell):
    value, problem = nz.to_vocab(cell, tpl.vocabularies[voc])
    assert value is None and problem


@pytest.mark.parametrize(
    "cell, slugs",
    [
        (
            "实地走访、座谈，数据分析;暗访 / 走访\n问卷调查",
            ["site_visit", "forum", "data_analysis", "unannounced", "written"],
        ),  # 走访 twice: counted once
        ("座谈和访谈", ["forum", "interview"]),
        ("走访+座谈", ["site_visit", "forum"]),
        ("走访；；座谈", ["site_visit", "forum"]),
        ("走访,实地调研,实地走访", ["site_visit"]),  # three ways of writing one method
        ("座谈会 、 访谈", ["forum", "interview"]),
        ("“四不两直”、座谈", ["unannounced", "forum"]),
        ("走访\r\n座谈", ["site_visit", "forum"]),
        (None, []),
        ("", []),
    ],
)
def test_list_cells_with_mixed_separators_and_repeats(tpl, cell, slugs):
    assert nz.to_vocab_list(cell, tpl.vocabularies["R"], tpl) == (slugs, None)


def test_a_list_cell_with_one_unknown_part_is_a_problem_naming_it(tpl):
    value, problem = nz.to_vocab_list("走访、喝茶", tpl.vocabularies["R"], tpl)
    assert value is None and "喝茶" in problem


# ---- text --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cell, text",
    [
        ("  学习\u3000 ", "学习"),
        ("第一行\n第二行", "第一行\n第二行"),  # inner line breaks kept for free text
        (" 第一行 \r\n 第二行 ", "第一行\n第二行"),
        ("ＡＢＣ１２３", "ABC123"),  # NFKC
        (30.0, "30"),
        (None, None),
        ("\u3000\n ", None),
    ],
)
def test_text(cell, text):
    assert nz.to_text(cell) == (text, None)


# ---- properties: never raise, always (value, problem) ------------------------------------------

ANY_CELL = st.one_of(
    st.none(),
    st.booleans(),
    st.text(),
    st.text(alphabet="0123456789０１２３年月日号底前之长期坚持.-/: 人次十百零一二三四五六七八九两\u3000\n"),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.dates(),
    st.datetimes(),
    st.times(),
    st.timedeltas(),
)


def _shape(result, kinds):
    assert isinstance(result, tuple) and len(result) == 2
    value, problem = result
    assert problem is None or isinstance(problem, str)
    if problem is not None:
        assert value is None
    if value is not None:
        assert isinstance(value, kinds)
    return value


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(cell=ANY_CELL)
def test_every_normaliser_returns_value_or_problem_and_never_raises(tpl, cell):
    _shape(nz.to_text(cell), str)
    _shape(nz.to_id(cell), str)
    d = _shape(nz.to_date(cell, tpl), date)
    assert d is None or not isinstance(d, datetime)
    dl = _shape(nz.to_deadline(cell, tpl), date)
    assert dl is None or not isinstance(dl, datetime)
    n = _shape(nz.to_int(cell, tpl), int)
    assert n is None or (not isinstance(n, bool) and 0 <= n < 2**63)
    for voc in ("M", "Z", "R"):
        _shape(nz.to_vocab(cell, tpl.vocabularies[voc]), str)
    _shape(nz.to_vocab_list(cell, tpl.vocabularies["R"], tpl), list)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(d=st.dates(min_value=date(2023, 9, 1), max_value=date(2024, 1, 31)))
def test_any_campaign_day_round_trips_through_every_written_form(tpl, d):
    serial = (d - date(1899, 12, 30)).days
    forms = [
        d,
        serial,
        str(serial),
        f"{d.year}-{d.month:02d}-{d.day:02d}",
        f"{d.year}/{d.month}/{d.day}",
        f"{d.year}.{d.month}.{d.day}",
        f"{d.year}年{d.month}月{d.day}日",
        f"{d.year}年{d.month:02d}月{d.day:02d}日",
        f"{d.year}{d.month:02d}{d.day:02d}",
        f"{d.month}月{d.day}日",
        f"{d.month}.{d.day}",
    ]
    for form in forms:
        assert nz.to_date(form, tpl) == (d, None), form
        assert nz.to_deadline(f"{form}前" if isinstance(form, str) else form, tpl) == (d, None), form


# ledger.md §6: "with a counting word (30人, 30 人次; also 名, 个, 次, 场, 期, 篇, 份, 项, 条)"
COUNTING_WORDS = ["", "人", " 人次", "名", "个", "次", "场", "期", "篇", "份", "项", "条"]


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(n=st.integers(min_value=0, max_value=10**9), unit=st.sampled_from(COUNTING_WORDS))
def test_any_count_round_trips_with_units_and_full_width_digits(tpl, n, unit):
    full = str(n).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert nz.to_int(f"{n}{unit}", tpl) == (n, None)
    assert nz.to_int(f"{full}{unit}", tpl) == (n, None)
    assert nz.to_int(float(n), tpl) == (n, None)


def test_a_time_or_duration_is_not_a_date(tpl):
    from datetime import time

    assert nz.to_date(time(10, 0), tpl)[1]
    assert nz.to_date(timedelta(days=3), tpl)[1]
