"""Daily visit reports (巡访日报表, Articles 3, 7, 9): store, receipt, technical issues.

A report with any problem is rejected as a whole, with every problem named; nothing is
stored and the raw mail stays for `replay`. A valid one is stored per visit (replacing the
rep's earlier report for the same date), its attachments kept as customer cards, the rep gets
a receipt listing what was understood (and naming the customers not found in the unit's
registry – the visits are stored all the same), and each technical issue goes to the region's
technical staff – a major one also to the production and technical departments.
"""

from __future__ import annotations

from ..reading.daily import DailyReport, read_daily_report
from ..reading.problems import FIELD_NAMES
from ..store import cards, reports
from ..store.customers import CustomerIndex
from ..context import Context
from . import Inbound, Outcome
from .answer import draft_reply, reply_to_sender

CARD_REASONS = {
    "too_large": ("超过大小限制", "larger than the limit"),
    "archive_too_large": ("解压后过大（疑似压缩炸弹）", "would expand beyond the limit (zip bomb?)"),
    "broken_archive": ("压缩文件已损坏", "a broken archive"),
    "damaged": ("传输编码已损坏，无法还原文件，请重新附加后发送", "its transfer encoding is damaged; please attach it again"),
}


# A receipt or rejection lists at most this many visits or problems (5,000 visits once made a
# 1.1 MB receipt); the rest is counted.
MAX_LISTED = 50


def handle(ctx: Context, inbound: Inbound) -> Outcome:
    """Store a valid report and answer; reject an invalid one naming every problem."""
    msg = inbound.msg
    rep = ctx.cfg.organisation.reps.get(msg.from_addr)
    language = ctx.cfg.language_for(msg.from_addr)
    if rep is None:
        reply_to_sender(ctx, inbound, "daily_rejected", **_not_a_rep(language))
        return Outcome("rejected", f"{msg.from_addr} is not a rep in config.yaml: rejection sent")
    report = inbound.read(read_daily_report, ctx.cfg)
    if report.problems:
        reply_to_sender(ctx, inbound, "daily_rejected", **_rejection(report, language))
        return Outcome("rejected", f"{len(report.problems)} problem(s): "
                       + "; ".join(p.text("en") for p in report.problems))

    # Visits match customers of the rep's own unit; an unknown name is stored all the same.
    registry = ctx.cache.get(("registry", rep.unit))
    if registry is None:  # once per unit and transaction (a batch of mail): nothing else writes it meanwhile
        registry = ctx.cache[("registry", rep.unit)] = CustomerIndex.load(ctx.db, rep.unit)
    report_id, replaced = reports.save_report(
        ctx.db, message=inbound.id, rep=rep.email, unit=rep.unit, region=rep.region,
        report_date=report.report_date.isoformat(), source=report.source, visits=_visit_rows(report, registry))
    card_lines = _keep_cards(ctx, inbound, report, report_id, language)
    forwarded = _route_tech_issues(ctx, inbound.id, rep, report)
    reply_to_sender(ctx, inbound, "daily_receipt",
                    **_receipt(report, language, replaced=replaced is not None, cards=card_lines,
                               forwarded=forwarded, unregistered=_unregistered(report, registry)))
    return Outcome("processed", f"daily report {report.report_date} with {len(report.visits)} visit(s) stored"
                   + (f", replacing report #{replaced}" if replaced else ""))


def draft(drafter, msg, report: DailyReport) -> None:
    """Render ahead, in a worker process, the mail handle() will send for ``report``.

    Mirrors handle() without writing anything: what the database says (an earlier report of
    that day, the unit's registry) is read as it stands, so a draft may miss, and the writer
    then renders the mail itself (service.workers). ``drafter`` is a workers.Drafter.
    """
    rep = drafter.cfg.organisation.reps.get(msg.from_addr)
    language = drafter.cfg.language_for(msg.from_addr)
    if rep is None:
        draft_reply(drafter, msg, "daily_rejected", **_not_a_rep(language))
        return
    if report.problems:
        draft_reply(drafter, msg, "daily_rejected", **_rejection(report, language))
        return
    registry = drafter.registry(rep.unit)
    replaced = reports.current_report(drafter.db, rep.email, report.report_date.isoformat()) is not None
    policy = drafter.cfg.policy
    card_lines = [_card_line(a, cards.judge(a.payload, max_bytes=policy.max_attachment_bytes,
                                            max_unzipped=policy.max_unzipped_bytes, damage=a.damage), language)
                  for a in report.cards]
    forwarded = _route_tech_issues(drafter, None, rep, report)
    draft_reply(drafter, msg, "daily_receipt",
                **_receipt(report, language, replaced=replaced, cards=card_lines, forwarded=forwarded,
                           unregistered=_unregistered(report, registry)))


def _rejection(report: DailyReport, language: str) -> dict:
    problems = [p.text(language) for p in report.problems]
    return {"problems": problems[:MAX_LISTED], "unlisted": max(0, len(problems) - MAX_LISTED),
            "report_date": report.report_date.isoformat()}


def _receipt(report: DailyReport, language: str, *, replaced: bool, cards: list[str], forwarded: list[str],
             unregistered: list[str]) -> dict:
    return {"report_date": report.report_date.isoformat(), "replaced": replaced, "visit_count": len(report.visits),
            "visits": [_visit_summary(v, language) for v in report.visits[:MAX_LISTED]],
            "unlisted": max(0, len(report.visits) - MAX_LISTED), "cards": cards, "forwarded": forwarded,
            "source": report.source, "unregistered": unregistered[:MAX_LISTED],
            "unregistered_more": max(0, len(unregistered) - MAX_LISTED)}


def _visit_rows(report: DailyReport, registry: CustomerIndex) -> list[dict]:
    rows = []
    for visit in report.visits:
        rows.append({
            "seq": visit.number,
            "customer": visit.values["customer"],
            "customer_id": registry.match(visit.values["customer"]),
            "visited_at": visit.time.start.isoformat(),
            "visited_until": visit.time.end.isoformat() if visit.time.end else None,
            **{name: visit.values.get(name) for name in reports.VISIT_COLUMNS},
            "tech_major": int(visit.tech_major),
            "urgent": visit.urgent,
        })
    return rows


def _unregistered(report: DailyReport, registry: CustomerIndex) -> list[str]:
    """Return the customer names of the report that match no customer, once each, as written.

    Empty when the unit has no registry at all: then every name would be "unknown" and the
    note would only be noise.
    """
    if not registry:
        return []
    names: dict[str, None] = {}
    for visit in report.visits:
        if registry.match(visit.values["customer"]) is None:
            names.setdefault(visit.values["customer"], None)
    return list(names)


# The fields a receipt lists as read, in FIELD_NAMES order (customer and time head each visit).
_LISTED_FIELDS = tuple((name, names) for name, names in FIELD_NAMES.items()
                       if name not in ("customer", "visited_at", "date"))


def _visit_summary(visit, language: str) -> dict:
    index = 1 if language == "en" else 0
    values = visit.values
    read = [names[index] for name, names in _LISTED_FIELDS if values.get(name)]
    start, end = visit.time.start, visit.time.end
    when = f"{start:%Y-%m-%d %H:%M}" + (f"–{end:%H:%M}" if end else "")
    return {"number": visit.number, "customer": visit.values["customer"], "when": when, "fields": read,
            "urgent": visit.urgent, "tech_major": visit.tech_major,
            "tech_issue": bool(visit.values.get("tech_issue"))}


def _keep_cards(ctx: Context, inbound: Inbound, report: DailyReport, report_id: int, language: str) -> list[str]:
    policy = ctx.cfg.policy
    lines = []
    for attachment in report.cards:
        verdict = cards.judge(attachment.payload, max_bytes=policy.max_attachment_bytes,
                              max_unzipped=policy.max_unzipped_bytes, damage=attachment.damage)
        digest = None
        if verdict.kept:
            digest, path = cards.store_file(ctx.cfg.storage.cards_dir, attachment.payload)
            ctx.unsynced.append(str(path))
        cards.record(ctx.db, message=inbound.id, report=report_id, filename=attachment.filename or "attachment",
                     content_type=attachment.content_type, size=len(attachment.payload), sha256=digest,
                     verdict=verdict)
        lines.append(_card_line(attachment, verdict, language))
    return lines


def _card_line(attachment, verdict: cards.CardVerdict, language: str) -> str:
    """Return the receipt's line for one attachment: its name and size, kept or why not."""
    name = attachment.filename or "attachment"
    size = f"{len(attachment.payload) / 1024:.0f} KB"
    if verdict.kept:
        return f"{name} ({size}): " + ("kept as a customer card" if language == "en" else "已存为客户卡")
    reason = CARD_REASONS.get(verdict.reason, (verdict.reason, verdict.reason))[1 if language == "en" else 0]
    return f"{name} ({size}): " + (f"refused, {reason}" if language == "en" else f"未保存：{reason}")


def _route_tech_issues(ctx: Context, cause: int | None, rep, report: DailyReport) -> list[str]:
    """Mail each technical issue to the region's technical staff (major: also both departments).

    ``ctx`` is the writer's Context, or a worker's Drafter (``cause`` None) drafting the mails.
    """
    org = ctx.cfg.organisation
    region = org.regions[rep.region]
    sent = []
    for visit in report.visits:
        issue = visit.values.get("tech_issue")
        if not issue:
            continue
        to = [p.email for p in region.technical]
        cc = [p.email for p in org.production + org.technical_department] if visit.tech_major else []
        ctx.send("tech_issue", to=to, cc=[a for a in cc if a not in to], cause_message=cause,
                 rep_name=rep.name, rep_email=rep.email, region_name=region.name,
                 customer=visit.values["customer"], when=f"{visit.time.start:%Y-%m-%d %H:%M}",
                 issue=issue, major=visit.tech_major, report_date=report.report_date.isoformat())
        sent.append(visit.values["customer"])
    return sent


def _not_a_rep(language: str) -> dict:
    if language == "en":
        problem = "Only the reps listed in the configuration send daily visit reports; you are not one of them."
    else:
        problem = "只有配置中登记的巡访人员才能提交巡访日报，您不在名单中。"
    return {"problems": [problem], "unlisted": 0, "report_date": None}
