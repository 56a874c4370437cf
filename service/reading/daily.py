"""Read a daily visit report (巡访日报表, spec §4) from a mail: its text, or an attached Word form.

The result lists every visit with the data names of spec §4 and every problem found, each
tied to its visit number and field, so the rejection can name them all at once.

The form is found by its content, whatever the attachment is called: a .docx holding the
form's visit table, or a .doc / WPS / .odt / .rtf file that LibreOffice converts into one
(``service.documents.convert``, the one step here that is not pure; callers may pass their
own ``convert``). A document that should have been the form but cannot be read is named in
the problems with the reason. Every other attached file is a customer card, except images
that the HTML body shows through ``cid:``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from ..config import Config, Policy
from ..inbound.mime import Attachment, DecodedMessage
from .doctype import CLAIMED, DOC, DOCX, ODT, RTF, sniff
from .labels import Field, LabelSet
from .problems import Problem
from .quotes import own_text
from .times import VisitTime, parse_date, parse_visit_time
from .urgent import urgent_category
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

MAJOR_RE = re.compile(r"重大|major", re.I)


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


@dataclass(frozen=True)
class Refusal:
    """Say why an attached document that could have been the form was not read."""

    attachment: Attachment
    code: str    # too_large | not_document | unavailable | timeout | failed
    detail: str  # in English, for the operator


@dataclass
class FormSearch:
    """Hold the daily form found among a mail's attachments, or the documents that could not be read."""

    form: Attachment | None = None
    docx: bytes | None = None  # the form as .docx: the attachment itself, or its conversion
    kind: str | None = None    # what the attachment was: docx, doc, odt or rtf
    refused: list[Refusal] = field(default_factory=list)


Converter = Callable[..., object]  # service.documents.convert.to_docx's signature


@dataclass
class DailyReport:
    report_date: date
    visits: list[Visit]
    problems: list[Problem]
    source: str  # "text" or the form's file name
    cards: list[Attachment]  # attachments to keep as customer cards
    form: Attachment | None = None  # the attachment read as the report
    form_kind: str | None = None    # docx, doc, odt or rtf
    refused: list[Refusal] = field(default_factory=list)  # documents that could not be read
    body_images: list[Attachment] = field(default_factory=list)  # shown in the HTML body

    def as_json(self) -> dict:
        return {"report_date": self.report_date.isoformat(), "visits": [v.as_json() for v in self.visits]}


def read_daily_report(msg: DecodedMessage, cfg: Config, *, convert: Converter | None = None) -> DailyReport:
    """Return the report read from the mail's own text, or else from an attached daily form.

    ``convert`` turns a .doc / .odt / .rtf form into .docx (default: LibreOffice, see
    ``find_form``); it only runs when the text holds no visit.
    """
    mail_date = _mail_date(msg, cfg)
    text = own_text(msg.text)
    fields = DAILY_LABELS.split(text)
    body_images = [a for a in msg.attachments if a.body_image]
    search = FormSearch() if any(f.name == "customer" for f in fields) \
        else find_form(msg.attachments, cfg.policy, convert=convert)
    form = search.form
    if form is not None:
        cards = [a for a in msg.attachments if a is not form and not a.body_image]
        report = _from_form(form, search, mail_date, cards, cfg.policy.max_unzipped_bytes)
    elif search.refused:
        # The form is there but cannot be read: say so, not that no visit was found.
        refused = {id(r.attachment) for r in search.refused}
        cards = [a for a in msg.attachments if id(a) not in refused and not a.body_image]
        problems = [Problem(f"convert_{r.code}", value=r.attachment.filename or r.attachment.content_type)
                    for r in search.refused]
        report = DailyReport(report_date=mail_date, visits=[], problems=problems, source="text",
                             cards=cards, refused=search.refused)
    else:
        cards = [a for a in msg.attachments if not a.body_image]
        report_date, problems = _report_date([f for f in fields if f.name == "date"], mail_date)
        visits = _group_visits([f for f in fields if f.name != "date"])
        report = _validated(DailyReport(report_date=report_date, visits=visits, problems=problems,
                                        source="text", cards=cards))
    report.body_images = body_images
    if report.problems:
        # Whatever the decoder found that may be why nothing could be read goes into the reply.
        report.problems.extend(mail_problems(msg))
    return report


def mail_problems(msg: DecodedMessage) -> list[Problem]:
    """Return the decoder's findings that can explain a rejected mail, as problems for the reply."""
    found: list[Problem] = []
    for text in msg.problems:
        if "nested too deeply" in text:
            found.append(Problem("mail_nested"))
        elif text.startswith(("damaged base64 in text/", "undecodable bytes in text/", "unknown transfer encoding")):
            found.append(Problem("mail_damaged", value=text))
    return list(dict.fromkeys(found))


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


# The example visits our own mails show (templates help, daily_rejected, report_reminder): a
# report made only of them is an echo of our mail – an auto-responder pasting it back, or a rep
# who sent the example unchanged – and is never stored as anybody's visits.
EXAMPLE_CUSTOMERS = frozenset({"华联超市（浦东店）", "联华便利（徐汇店）", "hualian supermarket (pudong)",
                               "lianhua convenience (xuhui)"})
EXAMPLE_CONTENT = frozenset({
    "希望增加小包装规格", "竞品本月降价 5%", "客户同意增加订货", "协调补货，已于当日完成", "处理临期产品退换",
    "would like smaller packs", "competitor cut prices by 5% this month", "customer agreed to order more",
    "arranged a restock, done the same day", "exchanged products near their expiry date",
})


EXAMPLE_TIMES = frozenset({"2026-11-26 09:30", "2026-11-26 09:30-11:00", "09:30-11:00", "下午2:30", "2:30 pm"})


def _is_example(visit: Visit) -> bool:
    """Return whether the visit is one of our examples: customer, time and content all as shown."""
    content = [visit.values[name].strip().lower() for name in CONTENT_FIELDS if visit.values.get(name)]
    return (visit.values.get("customer", "").strip().lower() in EXAMPLE_CUSTOMERS
            and visit.values.get("visited_at", "").strip().lower() in EXAMPLE_TIMES
            and all(c in EXAMPLE_CONTENT for c in content))


def _validated(report: DailyReport) -> DailyReport:
    if not report.visits:
        report.problems.append(Problem("no_visits"))
    elif all(_is_example(v) for v in report.visits):
        report.problems.append(Problem("example_copied"))
        return report
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


def find_form(attachments: list[Attachment], policy: Policy, *, convert: Converter | None = None) -> FormSearch:
    """Return the first attachment that is a filled daily form, judged by content, not by name.

    A .docx is tried first; then .doc / WPS / .odt / .rtf files are converted with
    ``convert`` (default ``service.documents.convert.to_docx``) and tried. Files above
    ``policy.max_attachment_bytes`` are not opened, archives are checked against
    ``policy.max_unzipped_bytes`` first. With no form found, ``refused`` lists the documents
    that could not be read and why; documents that were read but are not the form are not in it
    (they are customer cards).
    """
    max_bytes, max_unzipped = policy.max_attachment_bytes, policy.max_unzipped_bytes
    kinds = [(a, sniff(a.payload, a.filename, a.content_type)) for a in attachments if not a.body_image]
    refused: list[Refusal] = []
    for attachment, kind in kinds:
        if kind != DOCX:
            continue
        unsafe = _unsafe_docx(attachment, max_bytes, max_unzipped)
        if unsafe:
            # Never opened, and never silently passed over: the rep learns why it was not read.
            refused.append(unsafe)
        elif is_daily_form(attachment.payload, max_unzipped_bytes=max_unzipped):
            return FormSearch(form=attachment, docx=attachment.payload, kind=DOCX)
    for attachment, kind in kinds:
        if kind == CLAIMED:
            refused.append(Refusal(attachment, "not_document", "its content is not a Word, WPS, "
                                   "OpenDocument or RTF document (damaged, or another kind of file)"))
        elif kind in (DOC, ODT, RTF):
            docx = _converted(attachment, kind, max_bytes, max_unzipped, convert, refused)
            if docx is not None and is_daily_form(docx, max_unzipped_bytes=max_unzipped):
                return FormSearch(form=attachment, docx=docx, kind=kind)
    return FormSearch(refused=refused)


def _unsafe_docx(attachment: Attachment, max_bytes: int, max_unzipped: int) -> Refusal | None:
    """Return why a .docx must not be opened (too large, a zip bomb, damaged in transit), or None."""
    if attachment.damage:
        return Refusal(attachment, "damaged", attachment.damage)
    if len(attachment.payload) > max_bytes:
        return Refusal(attachment, "too_large", f"the file has {len(attachment.payload):,} bytes, "
                       f"more than the {max_bytes:,}-byte attachment limit")
    from .wordform import check_zip

    try:
        check_zip(attachment.payload, max_unzipped)
    except FormError as exc:
        return Refusal(attachment, "unsafe", str(exc))
    return None


def _converted(attachment: Attachment, kind: str, max_bytes: int, max_unzipped: int,
               convert: Converter | None, refused: list[Refusal]) -> bytes | None:
    """Return the attachment converted to .docx, or None with the reason added to ``refused``."""
    if len(attachment.payload) > max_bytes:
        refused.append(Refusal(attachment, "too_large", f"the file has {len(attachment.payload):,} bytes, "
                               f"more than the {max_bytes:,}-byte attachment limit"))
        return None
    if kind == ODT:
        # An .odt is a zip: its directory is checked before LibreOffice unpacks it.
        from .wordform import check_zip

        try:
            check_zip(attachment.payload, max_unzipped)
        except FormError as exc:
            refused.append(Refusal(attachment, "too_large", str(exc)))
            return None
    if convert is None:  # deferred: only a mail with an old-format document needs LibreOffice
        from ..documents.convert import to_docx as convert
    result = convert(attachment.payload, kind, max_bytes=max_bytes, max_unzipped_bytes=max_unzipped)
    if result.docx is None:
        refused.append(Refusal(attachment, result.failure or "failed", result.detail))
    return result.docx


def _from_form(form: Attachment, search: FormSearch, mail_date: date, cards: list[Attachment],
               max_unzipped: int) -> DailyReport:
    source = form.filename or "form.docx"
    try:
        filled = read_daily_form(search.docx, max_unzipped_bytes=max_unzipped)
    except FormError as exc:
        return DailyReport(report_date=mail_date, visits=[], source=source, cards=cards, form=form,
                           form_kind=search.kind,
                           problems=[Problem("form_unreadable", value=f"{source}: {exc}")])
    date_fields = [Field("date", "日期", filled.report_date_text, 0)] if filled.report_date_text else []
    report_date, problems = _report_date(date_fields, mail_date)
    visits = [Visit(number=i, values={k: v for k, v in row.items() if k in VISIT_FIELDS})
              for i, row in enumerate(filled.visits, start=1)]
    return _validated(DailyReport(report_date=report_date, visits=visits, problems=problems,
                                  source=source, cards=cards, form=form, form_kind=search.kind))
