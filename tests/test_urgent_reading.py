"""Reading urgent reports (spec §4): the category as people name it, and golden mails."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from service.cli import cli
from service.config import parse_config
from service.intake import read_message
from service.reading.urgent import urgent_category

from .conftest import FIXTURES, REPO, base_config_data

GOLDEN = sorted((FIXTURES / "urgent").glob("*.eml"))


@pytest.mark.parametrize("text, key", [
    # keys, Chinese and English names
    ("competitor_policy", "competitor_policy"), ("同行销售政策重大变化", "competitor_policy"),
    ("Competitor new product", "competitor_product"), ("同行销售或服务新动向", "competitor_trend"),
    ("本公司产品重大缺陷", "product_defect"), ("其他紧急事项", "other"), ("OTHER", "other"),
    # the short forms people write
    ("同行新产品", "competitor_product"), ("竞品新品", "competitor_product"), ("新品上市", "competitor_product"),
    ("产品缺陷", "product_defect"), ("质量问题", "product_defect"), ("包装质量问题，客户退货", "product_defect"),
    ("政策变化", "competitor_policy"), ("竞品降价", "competitor_policy"), ("price war", "competitor_policy"),
    ("竞品新动向", "competitor_trend"), ("其它", "other"),
    # full-width letters fold
    ("ｐｒｏｄｕｃｔ ｄｅｆｅｃｔ", "product_defect"),
    # what is no category
    ("天气不好", None), ("", None), ("客户投诉服务态度", None),
])
def test_an_urgent_category_is_read_from_its_key_name_or_short_form(text, key):
    assert urgent_category(text) == key


@pytest.fixture(scope="module")
def config():
    return parse_config(base_config_data(), path=REPO / "config.yaml")


@pytest.mark.parametrize("eml", GOLDEN, ids=lambda p: p.stem)
def test_the_urgent_report_reads_as_its_golden_json(config, eml: Path):
    expected = json.loads(eml.with_suffix(".json").read_text(encoding="utf-8"))
    actual = read_message(eml.read_bytes(), config).as_json()
    for name in ("kind", "category", "customer", "details", "suggestion"):
        assert actual[name] == expected[name], name
    assert len(actual["problems"]) == len(expected["problems"]), actual["problems"]
    for got, want in zip(sorted(actual["problems"]), sorted(expected["problems"])):
        assert got.startswith(want), (got, want)


def test_parse_json_prints_the_urgent_fields_with_chinese_as_characters():
    eml = FIXTURES / "urgent" / "zh_plain_utf8_competitor_product.eml"
    result = CliRunner().invoke(cli, ["--config", str(REPO / "config.yaml"), "parse", str(eml), "--json"])
    assert result.exit_code == 0, result.output
    assert '"category": "competitor_product"' in result.output and "华联超市" in result.output
    assert json.loads(result.output)["suggestion"] == "尽快申请同等促销政策"


@pytest.mark.parametrize("template", ["help", "daily_rejected", "report_reminder"])
@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_the_example_in_each_of_our_mails_is_never_read_as_a_report(config, template, language):
    from service.inbound.mime import decode_message
    from service.outbound.render import Renderer
    from service.reading.daily import read_daily_report

    from .mail_variables import CASES, COMMON

    variables = {**COMMON, **next(iter(CASES[template].values()))}
    text = Renderer().render(template, language, **variables).text
    raw = ("From: li.lei@visitflow.test\nSubject: Re: x\nContent-Type: text/plain; charset=utf-8\n\n" + text)
    report = read_daily_report(decode_message(raw.encode()), config)
    assert [p.code for p in report.problems] == ["example_copied"]
