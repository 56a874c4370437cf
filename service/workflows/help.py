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


def too_large(ctx: Context, inbound: Inbound) -> Outcome:
    """Tell a known sender their mail was too large to read; keep it quarantined for a person.

    Only the header of such a mail was decoded (policy.max_message_bytes), so nothing in it
    is acted on; ``visitflow replay`` reads it once the limit is raised.
    """
    policy = ctx.cfg.policy
    reply_to_sender(ctx, inbound, "too_large", size_mb=_mb(inbound.msg.raw_size),
                    limit_mb=_mb(policy.max_message_bytes), attachment_mb=_mb(policy.max_attachment_bytes))
    return Outcome("quarantined", f"{inbound.verdict.reason}; the sender was told")


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f}".removesuffix(".0")
