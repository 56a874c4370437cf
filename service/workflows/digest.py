"""The unit head's daily digest and the missing-report reminders (Articles 10-11).

On each working day (service/workdays.py) at ``schedule.missing_report_reminder`` every rep
without a report that day gets one reminder; at ``schedule.daily_digest`` each unit head gets
one digest: who reported and who did not, every visit of the day, technical issues, and the
flagged items numbered 1..n (visits marked 紧急, rep urgent reports still with the head).

The head answers by reply: ``上报 2、3`` (+ comment) turns those items into urgent reports to
leadership, ``关闭 1 原因`` settles an item in the unit. Only the head the digest went to may,
with the proof rules of every deciding reply (its references, else the [VF-D-n] tag and the
digest's code). An item escalated twice, or a number the digest does not have, gets a polite
explanation and changes nothing; each digest and each reminder is sent once per day, across
restarts (the tables ``digests`` and ``report_reminders``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from ..context import Context
from ..inbound.mime import DecodedMessage
from ..reading.replies import Decision
from ..reading.urgent import category_name
from ..store import digests, urgent
from ..store.answers import AUTO, RECEIPT
from ..store.messages import audit
from ..workdays import WorkingDays
from . import Inbound, Outcome, urgent_report
from .answer import name_of, reply_to_sender
from .authority import authentication_problem, identity_problem

TAG_RE = re.compile(r"\[VF-D-(\d+)\]", re.I)
KEY_FIELDS = ("feedback", "market", "effect", "handled")
LINE_CHARS = 60  # a visit's one-line summary on a phone
# A visit marked 紧急 stays in the digest until the head escalates or closes it, this many days
# at most (a late report, or one for a day without a digest, still reaches the head).
FLAG_DAYS = 30


def local_day(ctx: Context, at: datetime) -> date:
    """Return the local date of ``at`` (naive times are local already)."""
    return (at.astimezone(ctx.cfg.policy.zone) if at.tzinfo else at).date()


# --------------------------------------------------------------------------- jobs

def send_digests(ctx: Context, at: datetime) -> str:
    """Send each unit head the digest of the day of ``at`` (a working day), once per unit and day."""
    day = local_day(ctx, at)
    if not WorkingDays(ctx.cfg.policy).is_working_day(day):
        return f"{day}: not a working day, no digest"
    reported = digests.reporters(ctx.db, day.isoformat())
    sent = []
    for unit in ctx.cfg.organisation.units.values():
        if digests.exists(ctx.db, unit.id, day.isoformat()):
            continue
        _send_digest(ctx, unit, day, reported)
        sent.append(unit.id)
    return f"{day}: digest sent to {len(sent)} unit(s)" + (f" ({', '.join(sent)})" if 0 < len(sent) <= 10 else "")


def remind_missing(ctx: Context, at: datetime) -> str:
    """Remind every rep without a report for the day of ``at`` (a working day), once per rep and day."""
    day = local_day(ctx, at)
    if not WorkingDays(ctx.cfg.policy).is_working_day(day):
        return f"{day}: not a working day, no reminders"
    reported = digests.reporters(ctx.db, day.isoformat())
    reminded = 0
    for rep in ctx.cfg.organisation.reps.values():
        if rep.email in reported or not digests.remind_once(ctx.db, rep.email, day.isoformat()):
            continue
        ctx.send("report_reminder", to=[rep.email], day=day.isoformat(), rep_name=rep.name,
                 digest_time=ctx.cfg.schedule.daily_digest.strftime("%H:%M"))
        reminded += 1
    return f"{day}: {reminded} rep(s) reminded"


def _send_digest(ctx: Context, unit, day: date, reported: set[str]) -> None:
    db = ctx.db
    head = unit.head.email
    language = ctx.cfg.language_for(head)
    visits = digests.day_visits(db, unit.id, day.isoformat())
    reps = [r for r in ctx.cfg.organisation.reps.values() if r.unit == unit.id]
    per_rep = {r.email: 0 for r in reps}
    for v in visits:
        per_rep[v["rep"]] = per_rep.get(v["rep"], 0) + 1
    items: list[dict] = []
    since = (day - timedelta(days=FLAG_DAYS)).isoformat()
    for v in digests.open_flagged_visits(db, unit.id, day.isoformat(), since):
        items.append({"kind": "visit", "visit": v["id"], "who": name_of(ctx, v["rep"]),
                      "category": category_name(v["urgent"], language), "customer": v["customer"],
                      "text": _one_line(_key_text(v)),
                      "reference": "" if v["report_date"] == day.isoformat() else v["report_date"]})
    for report in digests.open_rep_reports(db, unit.id):
        items.append({"kind": "urgent", "report": report["id"], "who": name_of(ctx, report["reporter"]),
                      "category": category_name(report["category"], language), "customer": report["customer"] or "",
                      "text": _one_line(report["details"]), "reference": f"U-{report['id']}"})
    for number, item in enumerate(items, start=1):
        item["number"] = number
    token = digests.new_token()
    digest_id = digests.create(db, unit=unit.id, day=day.isoformat(), head=head, message_id=f"pending.{token}",
                               token=token, items=items)
    message_id = ctx.send(
        "digest", to=[head], digest_id=digest_id, day=day.isoformat(), unit_name=unit.name, head_name=unit.head.name,
        reps=[{"name": r.name, "reported": r.email in reported, "visits": per_rep.get(r.email, 0)} for r in reps],
        silent=[r.name for r in reps if r.email not in reported],
        visits=[_visit_line(ctx, v) for v in visits],
        tech_issues=[{"who": name_of(ctx, v["rep"]), "customer": v["customer"], "text": v["tech_issue"],
                      "major": bool(v["tech_major"])} for v in visits if v["tech_issue"]],
        items=items, token=token)
    db.execute("UPDATE digests SET message_id = ? WHERE id = ?", [message_id, digest_id])


def _key_text(visit: dict) -> str:
    return "；".join(visit[name] for name in KEY_FIELDS if visit.get(name))


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= LINE_CHARS else line[:LINE_CHARS - 1] + "…"


def _visit_line(ctx: Context, v: dict) -> dict:
    start = datetime.fromisoformat(v["visited_at"])
    when = f"{start:%H:%M}" + (f"–{datetime.fromisoformat(v['visited_until']):%H:%M}" if v["visited_until"] else "")
    return {"who": name_of(ctx, v["rep"]), "customer": v["customer"], "when": when, "line": _one_line(_key_text(v)),
            "fields": {name: v[name] for name in ("feedback", "market", "effect", "handled", "other", "stock",
                                                   "products") if v.get(name)},
            "urgent": bool(v["urgent"])}


# --------------------------------------------------------------------------- replies

@dataclass(frozen=True)
class Target:
    digest: dict
    by_reference: bool


def find_target(ctx: Context, msg: DecodedMessage) -> Target | None:
    """Return the digest a reply answers: by its references, else by the [VF-D-n] tag."""
    for ref in msg.in_reply_to + list(reversed(msg.references)):
        found = digests.by_message_id(ctx.db, ref)
        if found:
            return Target(found, True)
    match = TAG_RE.search(msg.subject)
    if match:
        found = digests.get(ctx.db, int(match[1]))
        if found:
            return Target(found, False)
    return None


def on_reply(ctx: Context, inbound: Inbound, target: Target, decision: Decision) -> Outcome:
    """Escalate or close the numbered items the head names; explain what could not be done."""
    msg = inbound.msg
    digest = target.digest
    subject = f"digest:{digest['id']}"
    refusal = _refusal(ctx, msg, target)
    if refusal:
        audit(ctx.db, subject=subject, action="refused", reason=refusal, actor=msg.from_addr, message=inbound.id)
        reply_to_sender(ctx, inbound, "digest_result", answer=AUTO, day=digest["day"], done=[], problems=[],
                        refused=refusal.split(":")[0])
        return Outcome("rejected", f"digest {digest['day']} ({digest['unit']}): reply refused: {refusal}")
    if decision.decision not in ("escalate", "close") or not decision.numbers:
        reply_to_sender(ctx, inbound, "digest_result", answer=AUTO, day=digest["day"], done=[], problems=[],
                        refused="no_items")
        return Outcome("rejected", f"digest {digest['day']}: reply names no items to escalate or close")
    items = digests.items(ctx.db, digest["id"])
    done, problems = [], []
    for number in decision.numbers:
        item = items.get(number)
        if item is None:
            problems.append({"number": number, "why": "missing", "count": len(items)})
            continue
        why = _apply(ctx, digest, item, decision.decision, decision.comment, cause=inbound.id)
        if why:
            problems.append({"number": number, "why": why, "count": len(items)})
        else:
            done.append({"number": number, "what": decision.decision})
    audit(ctx.db, subject=subject, action=decision.decision,
          reason=f"items {decision.numbers}: {len(done)} done, {len(problems)} not; {decision.comment or ''}".strip(),
          actor=msg.from_addr, message=inbound.id)
    reply_to_sender(ctx, inbound, "digest_result", answer=RECEIPT if done else AUTO, day=digest["day"],
                    done=done, problems=problems, refused=None)
    state = "processed" if done else "rejected"
    return Outcome(state, f"digest {digest['day']} ({digest['unit']}): {decision.decision} "
                   f"{[d['number'] for d in done]}, not done {[p['number'] for p in problems]}")


def _refusal(ctx: Context, msg: DecodedMessage, target: Target) -> str | None:
    ambiguous = identity_problem(msg)
    if ambiguous:
        return ambiguous
    if msg.from_addr != target.digest["head"]:
        return f"not_head: only {target.digest['head']}, to whom the digest went, may answer it"
    if not target.by_reference and target.digest["token"] not in (msg.text + msg.html + msg.subject):
        return "no_token: the reply neither references the digest nor carries its code"
    return authentication_problem(msg, ctx.cfg)


def _apply(ctx: Context, digest: dict, item: dict, decision: str, comment: str, *, cause: int) -> str | None:
    """Escalate or close one item; return why it could not be, or None."""
    if item["state"] != "open":
        return item["state"]  # already escalated / closed
    head = digest["head"]
    if item["kind"] == "visit":
        visit = digests.visit(ctx.db, item["visit"])
        if decision == "escalate":
            if digests.visit_escalated(ctx.db, item["visit"]):
                return "escalated"
            if not visit["current"]:
                return "replaced"  # the rep sent a corrected report since: that visit is history
            report_id = urgent_report.create_from_visit(ctx, visit=visit, head=head, comment=comment, cause=cause)
            digests.settle_item(ctx.db, digest["id"], item["number"], state="escalated", comment=comment,
                                escalated_to=report_id)
        else:
            digests.settle_item(ctx.db, digest["id"], item["number"], state="closed", comment=comment)
        return None
    report = urgent.get_report(ctx.db, item["report"])
    if report["state"] == "closed":
        return "closed"
    if decision == "escalate" and report["level"] == "leadership":
        return "escalated"
    recipient = urgent.add_recipient(ctx.db, report["id"], head, "head")
    urgent_report.apply(ctx, report, recipient, decision, comment, actor=head, cause=cause)
    digests.settle_item(ctx.db, digest["id"], item["number"], state="escalated" if decision == "escalate" else "closed",
                        comment=comment, escalated_to=report["id"] if decision == "escalate" else None)
    return None
