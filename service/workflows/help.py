"""The simplest workflows: ignore, quarantine, and answer what the service did not recognise."""

from __future__ import annotations

from . import Inbound, Outcome

KIND_NAMES = {
    "daily_report": ("巡访日报", "daily visit report"),
    "gift_request": ("礼品申请", "gift request"),
    "urgent_report": ("巡访紧急报告", "urgent visit report"),
    "visit_plan": ("巡访计划", "visit plan"),
}


def ignore(ctx, inbound: Inbound) -> Outcome:
    """Record an automatic or list message and never answer it."""
    return Outcome("ignored", inbound.verdict.reason)


def quarantine(ctx, inbound: Inbound) -> Outcome:
    """Keep mail from a stranger for a person to look at, without replying (no backscatter)."""
    return Outcome("quarantined", inbound.verdict.reason)


def unrecognized(ctx, inbound: Inbound) -> Outcome:
    """Answer a known sender whose mail matched no workflow with a short how-to."""
    _reply(ctx, inbound, "help", problem=None)
    return Outcome("rejected", f"{inbound.verdict.reason}: help reply sent")


def not_available(ctx, inbound: Inbound) -> Outcome:
    """Tell the sender this kind of mail is recognised but not handled by this installation yet."""
    _reply(ctx, inbound, "help", problem=inbound.verdict.kind)
    return Outcome("rejected", f"no workflow for {inbound.verdict.kind} yet: help reply sent")


def _reply(ctx, inbound: Inbound, template: str, **variables) -> str:
    msg = inbound.msg
    return ctx.send(template, to=[msg.from_addr], in_reply_to=msg.message_id or None,
                    references=msg.references, cause_message=inbound.id,
                    original_subject=msg.subject, sender_name=_name_of(ctx, msg.from_addr),
                    kind_names=KIND_NAMES, **variables)


def _name_of(ctx, address: str) -> str:
    person = ctx.cfg.person(address)
    return person.name if person else address
