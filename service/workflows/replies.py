"""Replies to mail the service sent: hand each to the workflow item it answers."""

from __future__ import annotations

from ..context import Context
from ..reading.daily import DAILY_LABELS
from ..reading.quotes import own_text
from ..reading.replies import read_decision
from . import Inbound, Outcome, daily_report, digest, gift_approval, monthly_report, urgent_report
from .answer import reply_to_sender


# Workflows whose mails can be answered by reply, asked in order: (find_target, on_reply).
REPLY_WORKFLOWS = (
    (gift_approval.find_target, gift_approval.on_reply),
    (urgent_report.find_target, urgent_report.on_reply),
    (digest.find_target, digest.on_reply),
    (monthly_report.find_target, monthly_report.on_reply),
)


def handle(ctx: Context, inbound: Inbound) -> Outcome:
    """Route a reply to the item it answers; a reply to mail that asks for no answer gets a note."""
    for find_target, on_reply in REPLY_WORKFLOWS:
        target = find_target(ctx, inbound.msg)
        if target is not None:
            return on_reply(ctx, inbound, target, read_decision(inbound.msg))
    if _carries_a_report(inbound):
        # A rep who answers a reminder or a rejection by Reply, with the report in the reply.
        return daily_report.handle(ctx, inbound)
    reply_to_sender(ctx, inbound, "no_decision_needed")
    return Outcome("processed", f"{inbound.verdict.reason}: nothing there to decide, note sent")


def _carries_a_report(inbound: Inbound) -> bool:
    """Return whether the replier's own words hold a daily report (a customer and a visit time)."""
    names = {f.name for f in DAILY_LABELS.split(own_text(inbound.msg.text))}
    return {"customer", "visited_at"} <= names
