"""Read a daily visit report (巡访日报表, spec §4) from a mail: its text, or an attached Word form.

The result lists every visit with the data names of spec §4 and every problem found, each
tied to its visit number and field, so the rejection can name them all at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

from ..config import Config
from ..inbound.mime import Attachment, DecodedMessage
from .labels import Field, LabelSet
from .quotes import own_text
from .times import VisitTime, parse_date, parse_visit_time
from .wordform import DAILY_COLUMNS, FormError, is_daily_form, read_daily_form

DAILY_LABELS = LabelSet({
    "date": ("日期", "报告日期", "日报日期", "Date", "Report date"),
    "customer": ("客户名称", "客户", "Customer", "Customer name"),
    "visited_at": ("巡访时间", "拜访时间", "访问时间", "Visit time", "Time of visit", "Visited at", "Time"),
    "feedback": ("客户意见", "客户意见、建议、希望", "客户意见建议", "意见建议", "Customer feedback", "Feedback"),
    "market": ("市场行情", "市场", "Market", "Market conditions", "Market information"),
    "effect": ("巡访效果", "效果", "Effect", "Visit effect", "Result"),
    "handled": ("处理事项", "主要处理事项", "处理事项及结果", "Matters handled", "Handled"),
    "other": ("其他事项", "其他", "其它事项", "其它", "Other", "Other matters"),
    "stock": ("库存销售", "库存", "库存及销售", "Stock and sales", "Stock", "Stock & sales"),
    "products": ("推广产品", "Products promoted", "Products", "Promoted products"),
    "tech_issue": ("技术问题", "Technical issue", "Technical issues", "Tech issue"),
    "urgent": ("紧急", "紧急事项", "紧急情况", "Urgent", "Urgent matter"),
})
VISIT_FIELDS = tuple(name for name, _, _ in DAILY_COLUMNS)  # spec §4, in the form's order
CONTENT_FIELDS = ("feedback", "market", "effect", "handled")

URGENT_CATEGORIES = {
    "competitor_policy": ("同行销售政策重大变化", "Competitor policy change"),
    "competitor_product": ("同行新产品上市", "Competitor new product"),
    "competitor_trend": ("同行销售或服务新动向", "Competitor trend"),
    "product_defect": ("本公司产品重大缺陷", "Product defect"),
    "other": ("其他紧急事项", "Other"),
}
# Words that name a category when the rep does not write its full name.
URGENT_WORDS = (
    ("competitor_policy", re.compile(r"competitor[_ ]policy|政策", re.I)),
    ("competitor_product", re.compile(r"competitor[_ ]product|new product|新产品|新品", re.I)),
    ("competitor_trend", re.compile(r"competitor[_ ]trend|trend|动向|新动态", re.I)),
    ("product_defect", re.compile(r"product[_ ]defect|defect|缺陷|质量问题|重大问题", re.I)),
    ("other", re.compile(r"^\s*(other|其他|其它)", re.I)),
)
MAJOR_RE = re.compile(r"重大|major", re.I)


@dataclass(frozen=True)
class Problem:
    code: str
    visit: int | None = None  # 1-based visit number
    field: str | None = None  # data name
    value: str = ""

    def text(self, language: str) -> str:
        """Return this problem as a sentence for the sender."""
        from .problems import describe

        return describe(self, language)


@dataclass
class Visit:
    number: int
    values: dict[str, str] = field(default_factory=dict)  # data name -> text as written
    time: VisitTime | None = None
    urgent: str | None = None  # category key

    @property
    def tech_major(self) -> bool:
        return bool(self.values.get("tech_issue")) and bool(MAJOR_RE.search(self.values["tech_issue"]))

    def as_json(self) -> dict:
        """Return the visit under spec §4's data names (absent fields as null, times ISO 8601)."""
        out: dict[str, object] = {name: self.values.get(name) for name in VISIT_FIELDS}
        out["visited_at"] = self.time.start.isoformat() if self.time else None
        out["urgent"] = self.urgent
        return out


@dataclass
class DailyReport:
    report_date: date
    visits: list[Visit]
    problems: list[Problem]
    source: str  # "text" or the form's file name
    cards: list[Attachment]  # attachments to keep as customer cards

    def as_json(self) -> dict:
        return {"report_date": self.report_date.isoformat(), "visits": [v.as_json() for v in self.visits]}


def read_daily_report(msg: DecodedMessage, cfg: Config) -> DailyReport:
    """Read the report from the mail's own text, or else from an attached daily-report form."""
    mail_date = _mail_date(msg, cfg)
    text = own_text(msg.text)
    fields = DAILY_LABELS.split(text)
    form = None if any(f.name == "customer" for f in fields) else _find_form(msg)
    cards = [a for a in msg.attachments if a is not form and not a.inline]
    if form is not None:
        return _from_form(form, mail_date, cards)
    report_date, problems = _report_date([f for f in fields if f.name == "date"], mail_date)
    visits = _group_visits([f for f in fields if f.name != "date"])
    return _validated(DailyReport(report_date=report_date, visits=visits, problems=problems,
                                  source="text", cards=cards))


def _mail_date(msg: DecodedMessage, cfg: Config) -> date:
    zone = cfg.policy.zone
    sent = msg.date if msg.date and msg.date.tzinfo else None
    return (sent.astimezone(zone) if sent else datetime.now(zone)).date()


def _report_date(fields: list[Field], mail_date: date) -> tuple[date, list[Problem]]:
    if not fields:
        return mail_date, []
    values = {f.value for f in fields}
    if len(values) > 1:
        return mail_date, [Problem("two_dates", field="date", value=" / ".join(sorted(values)))]
    parsed = parse_date(fields[0].value, mail_date)
    if isinstance(parsed, str):
        return mail_date, [Problem(f"date_{parsed}", field="date", value=fields[0].value)]
    return parsed, []


def _group_visits(fields: list[Field]) -> list[Visit]:
    """Group fields into visits: a customer label starts a visit; so does a field seen twice."""
    visits: list[Visit] = []
    current: Visit | None = None
    for f in fields:
        # A label already used in this visit starts the next one; a customer label after
        # fields without one joins them (the rep wrote the time above the customer).
        if current is None or f.name in current.values:
            current = Visit(number=len(visits) + 1)
            visits.append(current)
        current.values[f.name] = f.value
    return visits


def _validated(report: DailyReport) -> DailyReport:
    if not report.visits:
        report.problems.append(Problem("no_visits"))
    for visit in report.visits:
        n = visit.number
        if not visit.values.get("customer"):
            report.problems.append(Problem("missing", visit=n, field="customer"))
        raw_time = visit.values.get("visited_at", "")
        if not raw_time:
            report.problems.append(Problem("missing", visit=n, field="visited_at"))
        else:
            parsed = parse_visit_time(raw_time, report.report_date)
            if isinstance(parsed, str):
                report.problems.append(Problem(f"time_{parsed}", visit=n, field="visited_at", value=raw_time))
            else:
                visit.time = parsed
        if not any(visit.values.get(name) for name in CONTENT_FIELDS):
            report.problems.append(Problem("no_content", visit=n))
        if visit.values.get("urgent"):
            visit.urgent = urgent_category(visit.values["urgent"])
            if visit.urgent is None:
                report.problems.append(Problem("bad_urgent", visit=n, field="urgent", value=visit.values["urgent"]))
    return report


def urgent_category(text: str) -> str | None:
    """Return the urgent category key named in text (by key, Chinese or English name), or None."""
    head = text.strip().lower()
    for key, (zh, en) in URGENT_CATEGORIES.items():
        if head.startswith((key, zh.lower(), en.lower())):
            return key
    for key, pattern in URGENT_WORDS:
        if pattern.search(text):
            return key
    return None


def _find_form(msg: DecodedMessage) -> Attachment | None:
    for attachment in msg.attachments:
        if attachment.filename.lower().endswith(".docx") or "wordprocessingml" in attachment.content_type:
            if is_daily_form(attachment.payload):
                return attachment
    return None


def _from_form(form: Attachment, mail_date: date, cards: list[Attachment]) -> DailyReport:
    try:
        filled = read_daily_form(form.payload)
    except FormError as exc:
        return DailyReport(report_date=mail_date, visits=[], source=form.filename, cards=cards,
                           problems=[Problem("form_unreadable", value=f"{form.filename}: {exc}")])
    date_fields = [Field("date", "日期", filled.report_date_text, 0)] if filled.report_date_text else []
    report_date, problems = _report_date(date_fields, mail_date)
    visits = [Visit(number=i, values={k: v for k, v in row.items() if k in VISIT_FIELDS})
              for i, row in enumerate(filled.visits, start=1)]
    return _validated(DailyReport(report_date=report_date, visits=visits, problems=problems,
                                  source=form.filename or "form.docx", cards=cards))
