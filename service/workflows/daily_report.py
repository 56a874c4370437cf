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
from .answer import reply_to_sender

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
        reply_to_sender(ctx, inbound, "daily_rejected", problems=[_not_a_rep(language)], unlisted=0, report_date=None)
        return Outcome("rejected", f"{msg.from_addr} is not a rep in config.yaml: rejection sent")
    report = read_daily_report(msg, ctx.cfg)
    if report.problems:
        problems = [p.text(language) for p in report.problems]
        reply_to_sender(ctx, inbound, "daily_rejected", problems=problems[:MAX_LISTED],
                        unlisted=max(0, len(problems) - MAX_LISTED), report_date=report.report_date.isoformat())
        return Outcome("rejected", f"{len(problems)} problem(s): " + "; ".join(p.text("en") for p in report.problems))

    # Visits match customers of the rep's own unit; an unknown name is stored all the same.
    registry = CustomerIndex.load(ctx.db, rep.unit)
    report_id, replaced = reports.save_report(
        ctx.db, message=inbound.id, rep=rep.email, unit=rep.unit, region=rep.region,
        report_date=report.report_date.isoformat(), source=report.source, visits=_visit_rows(report, registry))
    card_lines = _keep_cards(ctx, inbound, report, report_id, language)
    unregistered = _unregistered(report, registry)
    forwarded = _route_tech_issues(ctx, inbound, rep, report)
    reply_to_sender(ctx, inbound, "daily_receipt", report_date=report.report_date.isoformat(),
                    replaced=replaced is not None, visit_count=len(report.visits),
                    visits=[_visit_summary(v, language) for v in report.visits[:MAX_LISTED]],
                    unlisted=max(0, len(report.visits) - MAX_LISTED),
                    cards=card_lines, forwarded=forwarded, source=report.source,
                    unregistered=unregistered[:MAX_LISTED], unregistered_more=max(0, len(unregistered) - MAX_LISTED))
    return Outcome("processed", f"daily report {report.report_date} with {len(report.visits)} visit(s) stored"
                   + (f", replacing report #{replaced}" if replaced else ""))


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


def _visit_summary(visit, language: str) -> dict:
    index = 1 if language == "en" else 0
    read = [FIELD_NAMES[name][index] for name in FIELD_NAMES
            if name not in ("customer", "visited_at", "date") and visit.values.get(name)]
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
        digest = cards.store_file(ctx.cfg.storage.cards_dir, attachment.payload) if verdict.kept else None
        name = attachment.filename or "attachment"
        cards.record(ctx.db, message=inbound.id, report=report_id, filename=name,
                     content_type=attachment.content_type, size=len(attachment.payload), sha256=digest,
                     verdict=verdict)
        size = f"{len(attachment.payload) / 1024:.0f} KB"
        if verdict.kept:
            lines.append(f"{name} ({size}): " + ("kept as a customer card" if language == "en" else "已存为客户卡"))
        else:
            reason = CARD_REASONS.get(verdict.reason, (verdict.reason, verdict.reason))[1 if language == "en" else 0]
            lines.append(f"{name} ({size}): " + (f"refused, {reason}" if language == "en" else f"未保存：{reason}"))
    return lines


def _route_tech_issues(ctx: Context, inbound: Inbound, rep, report: DailyReport) -> list[str]:
    """Mail each technical issue to the region's technical staff (major: also both departments)."""
    org = ctx.cfg.organisation
    region = org.regions[rep.region]
    sent = []
    for visit in report.visits:
        issue = visit.values.get("tech_issue")
        if not issue:
            continue
        to = [p.email for p in region.technical]
        cc = [p.email for p in org.production + org.technical_department] if visit.tech_major else []
        ctx.send("tech_issue", to=to, cc=[a for a in cc if a not in to], cause_message=inbound.id,
                 rep_name=rep.name, rep_email=rep.email, region_name=region.name,
                 customer=visit.values["customer"], when=f"{visit.time.start:%Y-%m-%d %H:%M}",
                 issue=issue, major=visit.tech_major, report_date=report.report_date.isoformat())
        sent.append(visit.values["customer"])
    return sent


def _not_a_rep(language: str) -> str:
    if language == "en":
        return "Only the reps listed in the configuration send daily visit reports; you are not one of them."
    return "只有配置中登记的巡访人员才能提交巡访日报，您不在名单中。"
