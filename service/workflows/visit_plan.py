"""Visit plans (巡访计划, Article 5): mailed by a unit head, answered, kept, put in calendars.

- Only a unit head (for a unit they head) or leadership (for the unit the file names) may
  submit a plan, and only as the mail's one author (``authority``): a plan replaces the
  unit's plan, so a forged or shared From decides nothing. Anyone else is told who may.
- A plan with any problem is refused whole, each problem named with its row.
- An accepted plan replaces the unit's current plan for the period (kept as history); the
  sender gets a receipt: the period, the scheduled visits per visitor, the customers not in
  the unit's registry (none are named when the unit has no registry).
- Each visitor of the plan gets one mail listing their visits with an .ics file of them
  (``documents.calendar``: one all-day event per visit, UIDs that stay the same from one
  version of the plan to the next, SEQUENCE = version − 1). A replacing plan publishes the
  full new set; visits it drops are listed in the mail, because a PUBLISH file cannot take
  an event out of a calendar it was imported into. A visitor with no visits left still hears.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone

from ..context import Context
from ..documents.calendar import CalendarEvent, calendar_bytes
from ..outbound.outbox import FileAttachment
from ..reading.names import normalise_name
from ..reading.plan_problems import PlanProblem
from ..reading.plans import Plan, read_plan_mail
from ..store import plans as plan_store
from ..store.answers import RECEIPT
from ..store.customers import CustomerIndex
from ..store.messages import audit
from . import Inbound, Outcome
from .answer import name_of, reply_to_sender
from .authority import authentication_problem, identity_problem

MAX_LISTED = 50  # problems, unknown customers and visits listed in one mail; the rest counted
ICS_TYPE = "text/calendar"
# An event's words, per language (the mail around it is a template).
EVENT_TEXT = {
    "zh-CN": {"summary": "巡访：{customer}", "purpose": "目的：{purpose}", "plan": "巡访计划：{unit} {period}"},
    "en": {"summary": "Visit: {customer}", "purpose": "Purpose: {purpose}", "plan": "Visit plan: {unit} {period}"},
}


@dataclass(frozen=True)
class Accepted:
    saved: plan_store.Saved
    visitors: list[tuple[str, int]]  # (email, scheduled visits), in the plan's order
    unknown_customers: list[str]     # as written, first spelling of each; [] when the unit has no registry
    has_registry: bool
    calendars: list[str]             # who was mailed a calendar


def handle(ctx: Context, inbound: Inbound) -> Outcome:
    """Accept a unit's plan mailed by its head or leadership, or reject it naming every problem."""
    msg = inbound.msg
    language = ctx.cfg.language_for(msg.from_addr)
    unproven = identity_problem(msg) or authentication_problem(msg, ctx.cfg)
    plan = Plan(problems=[PlanProblem("unverified_sender", value=unproven)]) if unproven else read_plan_mail(msg, ctx.cfg)
    if plan.problems:
        problems = [p.text(language) for p in plan.problems]
        reply_to_sender(ctx, inbound, "plan_rejected", problems=problems[:MAX_LISTED],
                        unlisted=max(0, len(problems) - MAX_LISTED))
        return Outcome("rejected", f"visit plan with {len(problems)} problem(s): "
                       + "; ".join(p.text("en") for p in plan.problems[:10]))
    accepted = accept(ctx, plan, submitted_by=msg.from_addr, message=inbound.id)
    reply_to_sender(ctx, inbound, "plan_receipt", answer=RECEIPT, **_receipt_vars(ctx, plan, accepted))
    return Outcome("processed", f"visit plan P-{accepted.saved.id} for {plan.unit} {plan.period.key} "
                   f"(version {accepted.saved.version}, {len(plan.visits)} visits); calendars to "
                   f"{', '.join(accepted.calendars) or 'nobody'}")


def accept(ctx: Context, plan: Plan, *, submitted_by: str, message: int | None, calendars: bool = True) -> Accepted:
    """Store a checked plan (replacing the current one) and mail each visitor their calendar; return what was done.

    Runs in the caller's transaction; ``plan`` must have no problems.
    """
    index = CustomerIndex.load(ctx.db, plan.unit)
    rows = _visit_rows(ctx, plan, index)
    previous = plan_store.current_plan(ctx.db, plan.unit, plan.period.key)
    saved = plan_store.save_plan(
        ctx.db, unit=plan.unit, period=plan.period.key, period_start=plan.period.start, period_end=plan.period.end,
        key_products=plan.key_products, key_surveys=plan.key_surveys, special_surveys=plan.special_surveys,
        source=plan.source, submitted_by=submitted_by, message=message, visits=rows)
    audit(ctx.db, subject=f"plan:{saved.id}", action="accepted",
          reason=f"{plan.unit} {plan.period.key} version {saved.version}, {len(rows)} visits"
                 + (f", replaces P-{saved.replaced}" if saved.replaced else ""), actor=submitted_by, message=message)
    unknown: dict[str, str] = {}
    if index:
        for row in rows:
            if row["customer_id"] is None:
                unknown.setdefault(normalise_name(row["customer"]), row["customer"])
    counts = Counter(row["visitor"] for row in rows)
    sent = []
    if calendars:
        old_rows = plan_store.plan_visits(ctx.db, previous["id"]) if previous else []
        sent = _send_calendars(ctx, plan, saved, rows, old_rows, submitted_by, cause=message)
    return Accepted(saved, list(counts.items()), list(unknown.values()), bool(index), sent)


def visit_uid(ctx: Context, unit: str, period: str, visitor: str, customer: str, start: str, end: str, n: int) -> str:
    """Return a visit's calendar UID: the same for the same unit, period, visitor, customer and days.

    ``n`` tells apart the same visit planned more than once (a month entry written twice).
    """
    text = "|".join((unit, period, visitor.lower(), normalise_name(customer), start, end, str(n)))
    domain = ctx.cfg.service_address.rpartition("@")[2] or "visitflow.invalid"
    return f"plan-{hashlib.sha256(text.encode('utf-8')).hexdigest()[:32]}@{domain}"


def _visit_rows(ctx: Context, plan: Plan, index: CustomerIndex) -> list[dict]:
    seen: Counter = Counter()
    rows = []
    for visit in plan.visits:
        start, end = visit.span.start.isoformat(), visit.span.end.isoformat()
        key = (visit.visitor, normalise_name(visit.customer), start, end)
        seen[key] += 1
        rows.append({
            "row": visit.row, "date": visit.span.key, "day_start": start, "day_end": end, "customer": visit.customer,
            "customer_id": index.match(visit.customer), "visitor": visit.visitor, "purpose": visit.purpose,
            "uid": visit_uid(ctx, plan.unit, plan.period.key, visit.visitor, visit.customer, start, end, seen[key]),
        })
    return rows


# --------------------------------------------------------------------------- calendars

def _send_calendars(ctx: Context, plan: Plan, saved: plan_store.Saved, rows: list[dict], old_rows: list[dict],
                    submitted_by: str, *, cause: int | None) -> list[str]:
    """Mail each visitor of the new plan (and of the replaced one) their visits and .ics; return them."""
    unit_name = ctx.cfg.organisation.units[plan.unit].name
    new_uids = {row["uid"] for row in rows}
    visitors = list(dict.fromkeys([row["visitor"] for row in rows] + [row["visitor"] for row in old_rows]))
    stamp = datetime.now(timezone.utc).replace(microsecond=0)
    sent = []
    for visitor in visitors:
        mine = sorted((r for r in rows if r["visitor"] == visitor), key=lambda r: (r["day_start"], r["row"]))
        dropped = sorted((r for r in old_rows if r["visitor"] == visitor and r["uid"] not in new_uids),
                         key=lambda r: (r["day_start"], r["row"]))
        if not mine and not dropped:
            continue
        language = ctx.cfg.language_for(visitor)
        attachments = []
        if mine:
            ics = calendar_bytes(_events(mine, language, unit_name, plan.period.key),
                                 name=f"{unit_name} {plan.period.key}", sequence=saved.version - 1, stamp=stamp)
            attachments.append(FileAttachment(f"visit-plan-{plan.unit}-{plan.period.key}.ics", ics, ICS_TYPE))
        ctx.send("plan_calendar", to=[visitor], cause_message=cause, attachments=attachments,
                 visitor_name=name_of(ctx, visitor), submitter_name=name_of(ctx, submitted_by),
                 unit_name=unit_name, period=plan.period.key, period_start=plan.period.start.isoformat(),
                 period_end=plan.period.end.isoformat(), version=saved.version, replaced=saved.replaced is not None,
                 visit_count=len(mine), visits=[_listed(r) for r in mine[:MAX_LISTED]],
                 unlisted=max(0, len(mine) - MAX_LISTED), dropped=[_listed(r) for r in dropped[:MAX_LISTED]],
                 key_products=plan.key_products, key_surveys=plan.key_surveys, special_surveys=plan.special_surveys)
        sent.append(visitor)
    return sent


def _events(rows: Sequence[dict], language: str, unit_name: str, period: str) -> list[CalendarEvent]:
    words = EVENT_TEXT.get(language, EVENT_TEXT["zh-CN"])
    events = []
    for row in rows:
        lines = [words["purpose"].format(purpose=row["purpose"])] if row["purpose"] else []
        lines.append(words["plan"].format(unit=unit_name, period=period))
        events.append(CalendarEvent(uid=row["uid"], start=_day(row["day_start"]), end=_day(row["day_end"]),
                                    summary=words["summary"].format(customer=row["customer"]),
                                    description="\n".join(lines)))
    return events


def _day(text: str) -> date:
    return date.fromisoformat(text)


def _listed(row: dict) -> dict:
    return {"date": row["date"], "start": row["day_start"], "end": row["day_end"], "customer": row["customer"],
            "purpose": row["purpose"] or ""}


# --------------------------------------------------------------------------- receipt

def _receipt_vars(ctx: Context, plan: Plan, accepted: Accepted) -> dict:
    return {
        "plan_id": accepted.saved.id, "unit_name": ctx.cfg.organisation.units[plan.unit].name,
        "period": plan.period.key, "period_start": plan.period.start.isoformat(),
        "period_end": plan.period.end.isoformat(), "version": accepted.saved.version,
        "replaced": accepted.saved.replaced is not None, "visit_count": len(plan.visits),
        "visitors": [{"name": name_of(ctx, email), "email": email, "count": count}
                     for email, count in accepted.visitors],
        "has_registry": accepted.has_registry, "unknown_customers": accepted.unknown_customers[:MAX_LISTED],
        "unknown_unlisted": max(0, len(accepted.unknown_customers) - MAX_LISTED),
        "key_products": plan.key_products, "key_surveys": plan.key_surveys, "special_surveys": plan.special_surveys,
        "calendars": len(accepted.calendars),
    }
