"""Read an urgent visit report (巡访紧急报告, Article 11, spec §4) and name its category.

The five categories are the spec's table. People name them by key, by the Chinese or
English name, or by the short forms they actually write (竞品新品, 新品上市, 产品缺陷,
质量问题, 政策变化 …); ``urgent_category`` reads all of them, and a daily report's
``紧急 / Urgent`` field uses the same reader.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from ..config import Config
from ..inbound.mime import DecodedMessage
from .problems import Problem, single_fields
from .labels import LabelSet
from .quotes import own_text

URGENT_CATEGORIES = {
    "competitor_policy": ("同行销售政策重大变化", "Competitor policy change"),
    "competitor_product": ("同行新产品上市", "Competitor new product"),
    "competitor_trend": ("同行销售或服务新动向", "Competitor trend"),
    "product_defect": ("本公司产品重大缺陷", "Product defect"),
    "other": ("其他紧急事项", "Other"),
}
# Short forms, tried in order after the full names: the first pattern found decides. Product
# defects come first (质量 or 缺陷 is never a competitor's news), "other" last.
URGENT_WORDS = (
    ("product_defect", re.compile(r"product[_ ]?defect|defect|quality|缺陷|质量|品质|故障|召回|破损|变质|重大问题|产品问题", re.I)),
    ("competitor_product", re.compile(r"competitor[_ ]?product|new product|product launch|新产品|新品|上市", re.I)),
    ("competitor_policy", re.compile(r"competitor[_ ]?policy|policy|pricing|price|政策|价格|降价|返利|促销", re.I)),
    ("competitor_trend", re.compile(r"competitor[_ ]?trend|trend|动向|动态|新动作", re.I)),
    ("other", re.compile(r"^\s*(?:other|其他|其它|别的)", re.I)),
)

_COMPETITOR = re.compile(r"竞品|同行|对手|competitor|rival", re.I)

URGENT_LABELS = LabelSet({
    "category": ("类别", "类型", "紧急类别", "Category", "Type"),
    "customer": ("客户名称", "客户", "Customer", "Customer name"),
    "details": ("内容", "详情", "情况", "具体情况", "Details", "Detail", "Description"),
    "suggestion": ("建议", "处理建议", "Suggestion", "Suggestions", "Recommendation"),
})
REQUIRED = ("category", "details")


def urgent_category(text: str) -> str | None:
    """Return the category key ``text`` names (key, Chinese or English name, short form), or None."""
    head = unicodedata.normalize("NFKC", text).strip().lower()
    if not head:
        return None
    for key, (zh, en) in URGENT_CATEGORIES.items():
        if head.startswith((key, zh.lower(), en.lower())):
            return key
    competitor = _COMPETITOR.search(head) is not None
    for key, pattern in URGENT_WORDS:
        if key == "product_defect" and competitor:
            continue  # "竞品新品质量差" is news about a competitor, not a defect of ours
        if pattern.search(head):
            return key
    return None


def category_name(key: str, language: str) -> str:
    """Return the category's name in ``language`` (zh-CN or en)."""
    zh, en = URGENT_CATEGORIES[key]
    return en if language == "en" else zh


@dataclass
class UrgentReport:
    values: dict[str, str] = field(default_factory=dict)  # data name -> text as written
    category: str | None = None  # key
    problems: list[Problem] = field(default_factory=list)

    def as_json(self) -> dict:
        """Return the report under spec §4's data names."""
        return {
            "category": self.category,
            "customer": self.values.get("customer"),
            "details": self.values.get("details"),
            "suggestion": self.values.get("suggestion"),
        }


def read_urgent_report(msg: DecodedMessage, cfg: Config) -> UrgentReport:
    """Read and validate an urgent report from ``msg``'s own text; every problem is listed.

    Category and details are required; an unreadable category is the problem ``bad_category``
    (its wording lists the five). Never raises.
    """
    values, problems = single_fields(URGENT_LABELS.split(own_text(msg.text)), REQUIRED)
    report = UrgentReport(values=values, problems=problems)
    if report.values.get("category"):
        report.category = urgent_category(report.values["category"])
        if report.category is None:
            report.problems.append(Problem("bad_category", field="category", value=report.values["category"]))
    return report
