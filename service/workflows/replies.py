"""Replies to mail the service sent: hand each to the workflow item it answers.

A reply that answers no open item may still carry new work, sent by Reply because that is
the mail at hand: a unit head's corrected plan in reply to its rejection or receipt, a rep's
report in reply to a reminder. Those are read as the plan or the report they carry, never
answered with "nothing to decide".
"""

from __future__ import annotations

from ..context import Context
from ..reading.daily import DAILY_LABELS
from ..reading.plans import find_plan_files, submitter_units
from ..reading.quotes import own_text
from ..reading.replies import read_decision
from . import (
    Inbound,
    Outcome,
    daily_report,
    digest,
    gift_approval,
    monthly_report,
    urgent_report,
    visit_plan,
)
from .answer import reply_to_sender

# Workflows whose mails can be answered by reply, asked in order: (find_target, on_reply).
REPLY_WORKFLOWS = (
    (gift_approval.find_target, gift_approval.on_reply),
    (urgent_report.find_target, urgent_report.on_reply),
    (digest.find_target, digest.on_reply),
    (monthly_report.find_target, monthly_report.on_reply),
)


def handle(ctx: Context, inbound: Inbound) -> Outcome:
    """Route a reply to the item it answers, or read the plan or report it carries; else send a note."""
    for find_target, on_reply in REPLY_WORKFLOWS:
        target = find_target(ctx, inbound.msg)
        if target is not None:
            return on_reply(ctx, inbound, target, read_decision(inbound.msg))
    if _carries_a_plan(ctx, inbound):
        # A unit head who corrects a refused plan (or sends a new version) by replying to our answer.
        return visit_plan.handle(ctx, inbound)
    if _carries_a_report(inbound):
        # A rep who answers a reminder or a rejection by Reply, with the report in the reply.
        return daily_report.handle(ctx, inbound)
    reply_to_sender(ctx, inbound, "no_decision_needed")
    return Outcome("processed", f"{inbound.verdict.reason}: nothing there to decide, note sent")


def _carries_a_plan(ctx: Context, inbound: Inbound) -> bool:
    """Return whether the reply is a plan: a plan file attached by someone who may submit plans.

    Only a unit head or leadership counts: a rep's reply with a spreadsheet is no plan (it
    would only earn a refusal), and a head's "好的" without a file is no new version.
    """
    headed, leader = submitter_units(ctx.cfg.organisation, inbound.msg.from_addr)
    return bool(headed or leader) and bool(find_plan_files(inbound.msg.attachments))


def _carries_a_report(inbound: Inbound) -> bool:
    """Return whether the replier's own words hold a daily report (a customer and a visit time)."""
    names = {f.name for f in DAILY_LABELS.split(own_text(inbound.msg.text))}
    return {"customer", "visited_at"} <= names
