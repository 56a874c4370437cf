"""Replies to mail the service sent: hand each to the workflow item it answers."""

from __future__ import annotations

from . import Inbound, Outcome
from .help import _reply


def handle(ctx, inbound: Inbound) -> Outcome:
    """Route a reply to the item it answers; a reply to mail that asks for no answer gets a note."""
    _reply(ctx, inbound, "no_decision_needed")
    return Outcome("processed", f"{inbound.verdict.reason}: nothing there to decide, note sent")
