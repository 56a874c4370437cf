"""Urgent visit reports (巡访紧急报告, Article 11): up at once, acknowledged and closed by reply.

Article 11 has the unit head report up at once whatever the unit cannot solve itself:

- from a unit head or leadership, a report goes to leadership at once (``product_defect``
  also to the production and technical departments, Article 7);
- from a rep, it goes to the rep's unit head, who replies 上报 (up to leadership, the head's
  comment added) or 关闭 + reason (settled in the unit); the categories in
  ``policy.urgent.rep_direct`` also go to leadership at once;
- every recipient may reply 收到 (acknowledged) or 关闭 + comment. Only recipients may, with the
  proof rules of gift approvals: the reply references a mail we sent that recipient for the
  report, or carries the recipient's code with the [VF-U-n] tag. Everyone else is refused,
  audited and told why.

The reporter gets a receipt with the reference and hears each change of state. Reports
nobody acknowledged are reminded every ``policy.urgent_reminder_hours``, each period once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from ..context import Context
from ..inbound.mime import DecodedMessage
from ..reading.replies import Decision
from ..reading.urgent import category_name, read_urgent_report
from ..store import urgent
from ..store.db import now
from ..store.messages import audit
from . import Inbound, Outcome
from .answer import name_of, reply_to_sender
from .authority import authentication_problem, identity_problem

TAG_RE = re.compile(r"\[VF-U-(\d+)\]", re.I)


def handle(ctx: Context, inbound: Inbound) -> Outcome:
    """Validate a new urgent report from a rep, unit head or leader and send it where Article 11 says."""
    msg = inbound.msg
    cfg = ctx.cfg
    org = cfg.organisation
    rep = org.reps.get(msg.from_addr)
    head_of = next((u for u in org.units.values() if u.head.email == msg.from_addr), None)
    leader = any(p.email == msg.from_addr for p in org.leadership)
    if not (rep or head_of or leader):
        reply_to_sender(ctx, inbound, "urgent_rejected", problems=[_not_allowed(ctx, msg.from_addr)])
        return Outcome("rejected", f"{msg.from_addr} is neither a rep, a unit head nor leadership: rejection sent")
    report = inbound.read(read_urgent_report, cfg)
    language = cfg.language_for(msg.from_addr)
    if report.problems:
        problems = [p.text(language) for p in report.problems]
        reply_to_sender(ctx, inbound, "urgent_rejected", problems=problems)
        return Outcome("rejected", f"urgent report with {len(problems)} problem(s): "
                       + "; ".join(p.text("en") for p in report.problems))

    unit = rep.unit if rep else (head_of.id if head_of else None)
    from_rep = rep is not None and head_of is None
    direct = report.category in cfg.policy.urgent.rep_direct
    level = "unit" if from_rep and not direct else "leadership"
    report_id = urgent.create_report(
        ctx.db, origin="mail", message=inbound.id, visit=None, reporter=msg.from_addr, unit=unit,
        region=rep.region if rep else None, category=report.category, customer=report.values.get("customer"),
        details=report.values["details"], suggestion=report.values.get("suggestion"), level=level)
    sent_to = []
    if from_rep:
        sent_to += _send_to(ctx, report_id, [(org.units[unit].head.email, "head")], cause=inbound.id)
    if level == "leadership":
        sent_to += _send_to(ctx, report_id, _leadership_recipients(ctx, report.category, exclude=msg.from_addr),
                            cause=inbound.id)
    audit(ctx.db, subject=f"urgent:{report_id}", action="created", reason=f"{report.category}, level {level}",
          actor=msg.from_addr, message=inbound.id)
    reply_to_sender(ctx, inbound, "urgent_receipt", report_id=report_id,
                    category=category_name(report.category, language), customer=report.values.get("customer") or "",
                    sent_to=[name_of(ctx, p) for p in sent_to], level=level)
    return Outcome("processed", f"urgent report U-{report_id} ({report.category}) sent to {', '.join(sent_to)}")


def create_from_visit(ctx: Context, *, visit: dict, head: str, comment: str, cause: int) -> int:
    """Turn a flagged visit of the digest into an urgent report to leadership; return its id.

    ``visit`` is the visits row joined with its report (rep, unit, region). The head's comment
    is added; the rep hears of it.
    """
    details = "\n".join(f"{label}：{visit[name]}" for name, label in (
        ("feedback", "客户意见"), ("market", "市场行情"), ("handled", "处理事项"), ("other", "其他事项"),
        ("effect", "巡访效果")) if visit.get(name)) or visit["customer"]
    report_id = urgent.create_report(
        ctx.db, origin="digest", message=cause, visit=visit["id"], reporter=visit["rep"], unit=visit["unit"],
        region=visit["region"], category=visit["urgent"], customer=visit["customer"], details=details,
        suggestion=None, level="leadership", head_comment=comment or None)
    urgent.add_recipient(ctx.db, report_id, head, "head")
    _send_to(ctx, report_id, _leadership_recipients(ctx, visit["urgent"], exclude=head), cause=cause)
    audit(ctx.db, subject=f"urgent:{report_id}", action="created", reason=f"from visit {visit['id']} by the digest",
          actor=head, message=cause)
    _tell_reporter(ctx, urgent.get_report(ctx.db, report_id), "escalated", actor=head, comment=comment, cause=cause)
    return report_id


# --------------------------------------------------------------------------- replies

@dataclass(frozen=True)
class Target:
    report: dict
    recipient: dict | None  # the recipient whose mail the reply references; None when found by tag
    via: str


def find_target(ctx: Context, msg: DecodedMessage) -> Target | None:
    """Return the urgent report a reply is about: by its references, else by the [VF-U-n] tag."""
    for ref in msg.in_reply_to + list(reversed(msg.references)):
        found = urgent.mail_target(ctx.db, ref)
        if found:
            recipient = next((r for r in urgent.recipients(ctx.db, found["report"]) if r["id"] == found["recipient"]),
                             None)
            return Target(urgent.get_report(ctx.db, found["report"]), recipient, f"references <{ref}>")
    match = TAG_RE.search(msg.subject)
    if match:
        report = urgent.get_report(ctx.db, int(match[1]))
        if report:
            return Target(report, None, f"subject tag {match[0]}")
    return None


def on_reply(ctx: Context, inbound: Inbound, target: Target, decision: Decision) -> Outcome:
    """Apply a recipient's 收到 / 关闭 / 上报, or refuse the reply with the reason (audited, explained)."""
    msg = inbound.msg
    report = target.report
    rid = report["id"]
    recipient, refusal = _recipient(ctx, msg, report, target)
    if refusal is None and decision.decision is None:
        reply_to_sender(ctx, inbound, "urgent_no_decision", report_id=rid, customer=report["customer"] or "")
        return Outcome("rejected", f"U-{rid}: reply decides nothing, asked to answer 收到, 关闭 or 上报")
    if refusal is None:
        refusal = _not_now(report, recipient, decision)
    if refusal:
        audit(ctx.db, subject=f"urgent:{rid}", action="refused", reason=refusal, actor=msg.from_addr,
              message=inbound.id)
        reply_to_sender(ctx, inbound, "urgent_refused", report_id=rid, reason_code=refusal.split(":")[0],
                        reason=refusal, customer=report["customer"] or "")
        return Outcome("rejected", f"U-{rid}: reply refused: {refusal}")
    # An urgent report has no numbered items: everything after the word is the comment.
    return apply(ctx, report, recipient, decision.decision, decision.remainder, actor=msg.from_addr,
                 cause=inbound.id)


def apply(ctx: Context, report: dict, recipient: dict, decision: str, comment: str, *, actor: str,
          cause: int) -> Outcome:
    """Acknowledge, close or escalate ``report`` for ``recipient`` (checked by the caller); tell the reporter."""
    rid = report["id"]
    changed = True
    if decision == "ack":
        urgent.acknowledge(ctx.db, recipient["id"])
        changed = report["state"] == "open"
        if changed:
            urgent.update_report(ctx.db, rid, state="acknowledged", acknowledged_at=now())
    elif decision == "close":
        urgent.update_report(ctx.db, rid, state="closed", closed_at=now(), closed_by=actor, close_comment=comment)
    elif decision == "escalate":
        urgent.update_report(ctx.db, rid, level="leadership", state="open", escalated_at=now(),
                             head_comment=comment or None, acknowledged_at=None)
        urgent.acknowledge(ctx.db, recipient["id"])
        _send_to(ctx, rid, _leadership_recipients(ctx, report["category"], exclude=actor), cause=cause)
    audit(ctx.db, subject=f"urgent:{rid}", action=decision, reason=comment or "(no comment)", actor=actor,
          message=cause)
    if changed:  # a second acknowledgement changes nothing the reporter needs to hear of
        _tell_reporter(ctx, urgent.get_report(ctx.db, rid), {"ack": "acknowledged", "close": "closed",
                                                             "escalate": "escalated"}[decision],
                       actor=actor, comment=comment, cause=cause)
    return Outcome("processed", f"U-{rid}: {decision} by {actor}")


def _recipient(ctx: Context, msg: DecodedMessage, report: dict, target: Target) -> tuple[dict | None, str | None]:
    """Return (the replying recipient, None) or (None, why the reply may not decide)."""
    ambiguous = identity_problem(msg)
    if ambiguous:
        return None, ambiguous
    mine = next((r for r in urgent.recipients(ctx.db, report["id"]) if r["person"] == msg.from_addr), None)
    if mine is None:
        return None, f"not_recipient: {msg.from_addr} did not receive urgent report U-{report['id']}"
    if target.recipient is None or target.recipient["id"] != mine["id"]:
        # Found by the tag, or answering a mail sent to someone else: the code must be quoted.
        if mine["token"] not in (msg.text + msg.html + msg.subject):
            return None, "no_token: the reply neither references your mail about the report nor carries its code"
    unauthenticated = authentication_problem(msg, ctx.cfg)
    if unauthenticated:
        return None, unauthenticated
    return mine, None


def _not_now(report: dict, recipient: dict, decision: Decision) -> str | None:
    """Return why this decision cannot apply to the report as it stands, or None."""
    if report["state"] == "closed":
        return f"closed: urgent report U-{report['id']} is already closed"
    if decision.decision == "escalate":
        if recipient["role"] != "head":
            return "not_head: only the unit head reports an urgent report up (上报)"
        if report["level"] == "leadership":
            return f"already_escalated: urgent report U-{report['id']} has already gone to leadership"
    if decision.decision not in ("ack", "close", "escalate"):
        return f"wrong_word: {decision.decision} does not apply to an urgent report"
    return None


# --------------------------------------------------------------------------- sending

def _leadership_recipients(ctx: Context, category: str, *, exclude: str) -> list[tuple[str, str]]:
    """Return (email, role) of leadership (and the departments for a product defect), without
    ``exclude`` – unless that would leave nobody: a sole leader's own report is then theirs to
    acknowledge and close, so it never sits open with no one able to answer it."""
    org = ctx.cfg.organisation
    people = [(p.email, "leadership") for p in org.leadership]
    if category == "product_defect":
        people += [(p.email, "production") for p in org.production]
        people += [(p.email, "technical") for p in org.technical_department]
    seen: set[str] = {exclude}
    chosen = [(e, role) for e, role in people if not (e in seen or seen.add(e))]
    return chosen or [(p.email, "leadership") for p in org.leadership if p.email == exclude]


def _send_to(ctx: Context, report_id: int, people: list[tuple[str, str]], *, cause: int | None,
             purpose: str = "report") -> list[str]:
    """Send the report to each person (one mail each, so a reply proves who answers); return them."""
    sent = []
    report = urgent.get_report(ctx.db, report_id)
    for email, role in people:
        recipient = urgent.add_recipient(ctx.db, report_id, email, role)
        message_id = ctx.send("urgent_report", to=[email], cause_message=cause,
                              **_mail_vars(ctx, report, email), role=role, token=recipient["token"], purpose=purpose)
        urgent.record_mail(ctx.db, message_id, report_id, recipient["id"], purpose)
        sent.append(email)
    return sent


def _tell_reporter(ctx: Context, report: dict, event: str, *, actor: str, comment: str, cause: int | None) -> None:
    if report["reporter"] == actor:
        return
    ctx.send("urgent_state", to=[report["reporter"]], cause_message=cause,
             **_mail_vars(ctx, report, report["reporter"]), event=event, actor_name=name_of(ctx, actor),
             comment=comment or "")


def _mail_vars(ctx: Context, report: dict, reader: str) -> dict:
    language = ctx.cfg.language_for(reader)
    unit = ctx.cfg.organisation.units.get(report["unit"] or "")
    return {
        "report_id": report["id"], "category": category_name(report["category"], language),
        "category_key": report["category"], "customer": report["customer"] or "",
        "subject_customer": _short(report["customer"] or "", 40), "details": report["details"],
        "suggestion": report["suggestion"] or "", "reporter_name": name_of(ctx, report["reporter"]),
        "reporter_email": report["reporter"], "unit_name": unit.name if unit else "",
        "head_comment": report["head_comment"] or "", "level": report["level"],
        "created_at": _local(ctx, report["created_at"]),
    }


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _local(ctx: Context, stamp: str | None) -> str:
    if not stamp:
        return ""
    return datetime.fromisoformat(stamp).astimezone(ctx.cfg.policy.zone).strftime("%Y-%m-%d %H:%M")


def _not_allowed(ctx: Context, address: str) -> str:
    if ctx.cfg.language_for(address) == "en":
        return "Only reps, unit heads and leadership can send urgent reports."
    return "只有营销员、营业单位主管和公司领导可以发送巡访紧急报告。"


# --------------------------------------------------------------------------- reminders

def remind(ctx: Context, at: datetime) -> str:
    """Remind the recipients of every open report nobody acknowledged, once per reminder period.

    A report's periods count from when it reached its current level, every
    ``policy.urgent_reminder_hours``; after downtime only the current period is reminded.
    """
    hours = ctx.cfg.policy.urgent_reminder_hours
    moment = at.astimezone(timezone.utc) if at.tzinfo else at.replace(tzinfo=ctx.cfg.policy.zone)
    reminded = 0
    for report in urgent.unacknowledged(ctx.db):
        base = datetime.fromisoformat(report["escalated_at"] or report["created_at"])
        period = int((moment - base).total_seconds() // (hours * 3600))
        if period < 1:
            continue
        key = period + (100_000 if report["level"] == "leadership" else 0)
        if not urgent.reminder_sent(ctx.db, report["id"], key):
            continue
        roles = ("head",) if report["level"] == "unit" else ("leadership", "production", "technical")
        for recipient in urgent.recipients(ctx.db, report["id"]):
            if recipient["role"] in roles and not recipient["acknowledged_at"]:
                message_id = ctx.send("urgent_report", to=[recipient["person"]], cause_message=None,
                                      **_mail_vars(ctx, report, recipient["person"]), role=recipient["role"],
                                      token=recipient["token"], purpose="reminder")
                urgent.record_mail(ctx.db, message_id, report["id"], recipient["id"], "reminder")
                reminded += 1
    return f"{reminded} reminder(s) sent"
