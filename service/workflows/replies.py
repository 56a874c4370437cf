"""Replies to mail the service sent: hand each to the workflow item it answers."""

from __future__ import annotations

from ..reading.replies import read_decision
from ..context import Context
from . import Inbound, Outcome, gift_approval
from .answer import reply_to_sender


def handle(ctx: Context, inbound: Inbound) -> Outcome:
    """Route a reply to the item it answers; a reply to mail that asks for no answer gets a note."""
    target = gift_approval.find_target(ctx, inbound.msg)
    if target is not None:
        return gift_approval.on_reply(ctx, inbound, target, read_decision(inbound.msg))
    reply_to_sender(ctx, inbound, "no_decision_needed")
    return Outcome("processed", f"{inbound.verdict.reason}: nothing there to decide, note sent")
