"""Answer the sender of an inbound mail: in its thread, in their language, and never in a loop.

Every answer passes the answer guard first. Receipts for real work always go out; an
automatic answer (help, a rejection) or a note (on a reply that decides nothing) is held
back when the conversation or the recipient has had enough (RFC 3834 §2, like Mailman's
autoresponse limit and RT's loop guard):

- a reply that decides nothing gets at most one note per conversation and correspondent;
- a conversation gets at most ``policy.auto_reply_limit.per_thread`` automatic answers;
- one recipient gets at most ``count`` automatic answers per ``per_minutes``.

A held-back answer is recorded (``withheld_answers``, the message's outcome) with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

from ..context import Context
from ..store import answers
from ..store.answers import AUTO, NOTE, RECEIPT
from ..store.messages import audit
from . import Inbound

KIND_NAMES = {
    "daily_report": ("巡访日报", "daily visit report"),
    "gift_request": ("礼品申请", "gift request"),
    "urgent_report": ("巡访紧急报告", "urgent visit report"),
    "visit_plan": ("巡访计划", "visit plan"),
}

# What each answer template is to the guard; a template not listed is an automatic answer.
ANSWER_KINDS = {
    "daily_receipt": RECEIPT,
    "gift_received": RECEIPT,
    "help": AUTO,
    "daily_rejected": AUTO,
    "gift_invalid": AUTO,
    "no_decision_needed": NOTE,
    "gift_no_decision": NOTE,
    "gift_refused": NOTE,
    "urgent_receipt": RECEIPT,
    "urgent_rejected": AUTO,
    "urgent_refused": NOTE,
    "urgent_no_decision": NOTE,
    "monthly_refused": NOTE,
    "monthly_no_decision": NOTE,
    "too_large": AUTO,
}
MAX_SUBJECT_ECHO = 120  # characters of the sender's subject repeated in an answer's subject


def reply_to_sender(ctx: Context, inbound: Inbound, template: str, *, recipients: Sequence[str] = (),
                    answer: str | None = None, **variables) -> str | None:
    """Queue ``template`` to the sender of ``inbound`` as a reply in its thread, unless the guard says no.

    The mail carries In-Reply-To/References of the inbound mail (RFC 5322 §3.6.4), the
    sender's subject (reply prefixes removed, at most MAX_SUBJECT_ECHO characters) and name.
    ``recipients`` replaces the sender (each gets their own mail, each guarded on its own);
    ``answer`` (receipt | auto | note) overrides what ANSWER_KINDS says of the template.
    Returns the first queued Message-ID, or None when every answer was held back (the
    reasons are recorded and added to ``ctx.withheld``).
    """
    msg = inbound.msg
    kind = answer or ANSWER_KINDS.get(template, AUTO)
    day = datetime.now(timezone.utc).astimezone(ctx.cfg.policy.zone).date().isoformat()
    first = None
    for address in recipients or [msg.from_addr]:
        correspondent = address.lower()
        thread = answers.thread_of(ctx.db, message_id=msg.message_id, in_reply_to=msg.in_reply_to,
                                   references=msg.references, correspondent=correspondent, subject=msg.subject,
                                   day=day)
        reason = _withhold_reason(ctx, thread, correspondent, kind) if kind != RECEIPT else None
        if reason:
            answers.withhold(ctx.db, message=inbound.id, correspondent=correspondent, template=template,
                             reason=reason)
            audit(ctx.db, subject=f"message:{inbound.id}", action="answer_withheld",
                  reason=f"{template}: {reason}", actor=correspondent, message=inbound.id)
            ctx.withheld.append(f"no {template} answer to {correspondent}: {reason}")
            continue
        message_id = ctx.send(template, to=[correspondent], in_reply_to=msg.message_id or None,
                              references=msg.references, cause_message=inbound.id, thread=thread, answer=kind,
                              **_reply_variables(ctx, msg, correspondent), **variables)
        first = first or message_id
    return first


def draft_reply(drafter, msg, template: str, **variables) -> None:
    """Draft, in a worker process, the mail reply_to_sender would send to the sender of ``msg``.

    ``drafter`` is a workers.Drafter. The guard's decision is the writer's alone: a draft
    held back by it is simply never used.
    """
    correspondent = msg.from_addr.lower()
    drafter.send(template, to=[correspondent], in_reply_to=msg.message_id or None, references=msg.references,
                 **_reply_variables(drafter, msg, correspondent), **variables)


def _reply_variables(ctx, msg, correspondent: str) -> dict:
    return {"original_subject": echo_subject(msg.subject), "sender_name": name_of(ctx, correspondent),
            "kind_names": KIND_NAMES}


def _withhold_reason(ctx: Context, thread: str, correspondent: str, kind: str) -> str | None:
    limit = ctx.cfg.policy.auto_reply_limit
    if kind == NOTE and answers.answers_in_thread(ctx.db, thread, correspondent, (NOTE,)):
        return "a note was already sent in this conversation"
    in_thread = answers.answers_in_thread(ctx.db, thread, correspondent, (AUTO, NOTE))
    if in_thread >= limit.per_thread:
        return f"this conversation already had {in_thread} automatic answers (per_thread {limit.per_thread})"
    recent = answers.recent_automatic_answers(ctx.db, correspondent, limit.per_minutes)
    if recent >= limit.count:
        return (f"{correspondent} already had {recent} automatic answers in the last "
                f"{limit.per_minutes:g} minutes (auto_reply_limit)")
    return None


def echo_subject(subject: str) -> str:
    """Return the sender's subject as an answer repeats it: reply prefixes removed, shortened.

    At most MAX_SUBJECT_ECHO characters, ending in '…' when cut. Never raises.
    """
    text = " ".join(answers.strip_reply_prefixes(subject).split())
    return text if len(text) <= MAX_SUBJECT_ECHO else text[:MAX_SUBJECT_ECHO - 1] + "…"


def name_of(ctx: Context, address: str) -> str:
    """Return the configured name of the person at ``address``, or the address itself."""
    person = ctx.cfg.person(address)
    return person.name if person else address
