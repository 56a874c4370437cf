"""The simplest workflows: ignore, quarantine, and answer what the service did not recognise."""

from __future__ import annotations

from ..context import Context
from . import Inbound, Outcome
from .answer import reply_to_sender


def ignore(ctx: Context, inbound: Inbound) -> Outcome:
    """Record an automatic or list message and never answer it."""
    return Outcome("ignored", inbound.verdict.reason)


def quarantine(ctx: Context, inbound: Inbound) -> Outcome:
    """Keep mail from a stranger for a person to look at, without replying (no backscatter)."""
    return Outcome("quarantined", inbound.verdict.reason)


def unrecognized(ctx: Context, inbound: Inbound) -> Outcome:
    """Answer a known sender whose mail matched no workflow with a short how-to."""
    reply_to_sender(ctx, inbound, "help", problem=None)
    return Outcome("rejected", f"{inbound.verdict.reason}: help reply sent")


def not_available(ctx: Context, inbound: Inbound) -> Outcome:
    """Tell the sender this kind of mail is recognised but not handled by this installation yet."""
    reply_to_sender(ctx, inbound, "help", problem=inbound.verdict.kind)
    return Outcome("rejected", f"no workflow for {inbound.verdict.kind} yet: help reply sent")
