"""Answer the sender of an inbound mail, in the thread of that mail and in their language."""

from __future__ import annotations

from ..context import Context
from . import Inbound

KIND_NAMES = {
    "daily_report": ("巡访日报", "daily visit report"),
    "gift_request": ("礼品申请", "gift request"),
    "urgent_report": ("巡访紧急报告", "urgent visit report"),
    "visit_plan": ("巡访计划", "visit plan"),
}


def reply_to_sender(ctx: Context, inbound: Inbound, template: str, **variables) -> str:
    """Queue ``template`` to the sender of ``inbound`` as a reply in its thread.

    The mail carries In-Reply-To/References of the inbound mail (RFC 5322 §3.6.4), the
    original subject and the sender's name. Returns the queued Message-ID.
    """
    msg = inbound.msg
    return ctx.send(template, to=[msg.from_addr], in_reply_to=msg.message_id or None,
                    references=msg.references, cause_message=inbound.id,
                    original_subject=msg.subject, sender_name=name_of(ctx, msg.from_addr),
                    kind_names=KIND_NAMES, **variables)


def name_of(ctx: Context, address: str) -> str:
    """Return the configured name of the person at ``address``, or the address itself."""
    person = ctx.cfg.person(address)
    return person.name if person else address
