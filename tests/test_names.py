"""Customer names as reps write them, matched to the registry (reading/names.py, store CustomerIndex)."""

from __future__ import annotations

from datetime import date

import pytest

from service.reading.customers import Customer
from service.reading.names import STEPS, normalise_name
from service.store import customers as store
from service.store.customers import CustomerIndex


def test_the_steps_run_in_the_documented_order():
    assert [name for name, _ in STEPS] == ["width", "case", "english_legal_forms", "punctuation_and_spaces",
                                           "chinese_suffixes"]


@pytest.mark.parametrize("step, before, after", [
    ("width", "ＡＢＣ１２３（浦东店）", "ABC123(浦东店)"),
    ("width", "华联　超市", "华联 超市"),
    ("case", "ACME Trading", "acme trading"),
    ("english_legal_forms", "acme co., ltd.", "acme"),
    ("english_legal_forms", "acme trading limited", "acme trading"),
    ("english_legal_forms", "costco", "costco"),  # "co" inside a word is no legal form
    ("english_legal_forms", "limited", "limited"),  # a form alone is the whole name: kept
    ("punctuation_and_spaces", "华联超市(浦东店)", "华联超市浦东店"),
    ("punctuation_and_spaces", "a&b · trading-co", "abtradingco"),
    ("punctuation_and_spaces", "“西湖”茶叶", "西湖茶叶"),
    ("chinese_suffixes", "上海华联超市股份有限公司", "上海华联超市"),
    ("chinese_suffixes", "北京喆镕商贸有限责任公司", "北京喆镕商贸"),
    ("chinese_suffixes", "杭州西湖茶叶店", "杭州西湖茶叶"),
    ("chinese_suffixes", "联华便利店有限公司", "联华便利"),
    ("chinese_suffixes", "公司", "公司"),  # never to nothing
])
def test_each_step_does_its_one_thing(step, before, after):
    assert dict(STEPS)[step](before) == after


@pytest.mark.parametrize("written, registered", [
    ("上海华联超市", "上海华联超市有限公司"),
    ("上海华联超市有限责任公司", "上海华联超市股份有限公司"),
    ("华联超市(浦东店)", "华联超市（浦东店）"),
    ("华联超市 浦东店", "华联超市（浦东店）"),
    ("ＡＣＭＥ", "ACME Co., Ltd."),
    ("acme", "ACME Co.，Ltd."),
    ("西湖茶叶", "西湖茶叶店"),
    ("  联华·便利  ", "联华便利"),
])
def test_spellings_of_one_customer_normalise_alike(written, registered):
    assert normalise_name(written) == normalise_name(registered)


@pytest.mark.parametrize("one, other", [
    ("上海华联超市", "杭州华联超市"),  # a leading city is kept: two shops in two cities
    ("华联超市（浦东店）", "华联超市（徐汇店）"),  # the branch is kept
    ("华联超市", "联华超市"),
    ("Costco", "Cost"),
])
def test_different_customers_stay_different(one, other):
    assert normalise_name(one) != normalise_name(other)


def test_a_blank_name_normalises_to_nothing():
    assert normalise_name("  ") == "" and normalise_name("") == ""


def customer(id: str, name: str, *aliases: str, unit: str = "east") -> Customer:
    return Customer(id=id, name=name, aliases=aliases, type="retailer", region="shanghai", unit=unit, tier="A",
                    designated_visitor=None)


@pytest.mark.parametrize("written, expected", [
    ("上海华联超市", "C001"),
    ("华联浦东", "C001"),  # an alias
    ("华联（浦东）", "C001"),  # an alias, written with other brackets
    ("联华便利", "C005"),
    ("联华便利（徐汇店）", None),  # the branch is part of the name: not the registered 联华便利
    ("杭州华联超市", None),
    ("", None),
])
def test_the_index_matches_by_normalised_name_and_alias(written, expected):
    index = CustomerIndex([customer("C001", "上海华联超市有限公司", "华联浦东"), customer("C005", "联华便利店")])
    assert index.match(written) == expected


def test_an_empty_index_is_false_and_matches_nothing():
    index = CustomerIndex([])
    assert not index and index.match("上海华联超市") is None


def test_a_name_matching_no_customer_is_listed_once_with_its_visits_and_reps(ctx):
    db = ctx.db
    store.import_customers(db, [customer("C001", "上海华联超市有限公司", "华联浦东")])
    db.execute("INSERT INTO raw_messages VALUES ('x', 1, x'00')")
    message = db.execute("INSERT INTO messages (message_id, folder, uidvalidity, uid, raw_sha256, size, received_at, "
                         "updated_at) VALUES ('<m>', 'INBOX', 1, 1, 'x', 1, '', '')").lastrowid
    for rep, day, names in [("li.lei@visitflow.test", "2026-11-26", ["上海华联超市", "宏达五金", "华联浦东"]),
                            ("han.meimei@visitflow.test", "2026-11-27", ["宏达五金有限公司", "宏达 五金"]),
                            ("han.meimei@visitflow.test", "2026-12-01", ["宏达五金"])]:
        report = db.execute("INSERT INTO reports (message, rep, unit, region, report_date, source, created_at) "
                            "VALUES (?, ?, 'east', 'shanghai', ?, 'text', '')", [message, rep, day]).lastrowid
        for seq, name in enumerate(names, start=1):
            db.execute("INSERT INTO visits (report, seq, customer, visited_at) VALUES (?, ?, ?, ?)",
                       [report, seq, name, f"{day}T09:00:00"])
    store.rematch_visits(db, ["east"])

    assert store.unmatched_names(db, "east", date(2026, 11, 1), date(2026, 11, 30)) == [
        ("宏达五金", 3, ("han.meimei@visitflow.test", "li.lei@visitflow.test"))]
    assert store.unmatched_names(db, "north", date(2026, 11, 1), date(2026, 11, 30)) == []
    assert db.execute("SELECT customer, customer_id FROM visits ORDER BY id").fetchall()[:3] == [
        ("上海华联超市", "C001"), ("宏达五金", None), ("华联浦东", "C001")]
