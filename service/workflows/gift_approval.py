"""Gift budget approvals decided by email reply (赠送礼品预算申请表, Article 6).

A request is routed along an approver chain (the rep's unit head, then leadership at or
above each configured amount threshold). Each step has a random token; the request mail's
Message-ID is recorded for the step, so a reply's references prove which step it answers.
Only the approver of the current step may decide it, only once, and only with its token;
anything else changes nothing, is audited and explained to its sender.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from ..inbound.mime import DecodedMessage
from ..outbound.outbox import FileAttachment
from ..reading.gift import read_gift_request
from ..reading.amounts import format_amount
from ..store import gifts
from ..store.db import now
from ..store.messages import audit
from ..context import Context
from . import Inbound, Outcome
from .answer import name_of, reply_to_sender
from .authority import author_mailboxes, authentication_problem, identity_problem

TAG_RE = re.compile(r"\[VF-G-(\d+)\]", re.I)
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
DECISION_WORDS = {"approve": ("同意", "approved"), "reject": ("驳回", "rejected")}


def handle(ctx: Context, inbound: Inbound) -> Outcome:
    """Validate a new gift request and send it to the first approver."""
    msg = inbound.msg
    rep = ctx.cfg.organisation.reps.get(msg.from_addr)
    language = ctx.cfg.language_for(msg.from_addr)
    request = inbound.read(read_gift_request, ctx.cfg)
    problems = [p.text(language) for p in request.problems]
    if rep is None:
        problems.insert(0, "Only reps listed in the configuration can apply for gifts." if language == "en"
                        else "只有配置中登记的巡访人员才能提交礼品申请。")
    if problems:
        reply_to_sender(ctx, inbound, "gift_invalid", problems=problems)
        return Outcome("rejected", f"gift request with {len(problems)} problem(s): "
                       + "; ".join(p.text("en") for p in request.problems))
    chain = approver_chain(ctx.cfg, rep, request.amount)
    period = budget_period(ctx.cfg, datetime.now(ctx.cfg.policy.zone))
    request_id = gifts.create_request(
        ctx.db, message=inbound.id, requester=rep.email, unit=rep.unit, region=rep.region,
        values=request.as_json(), period=period,
        steps=[(level, approver, secrets.token_hex(16)) for level, approver in chain])
    first = gifts.steps(ctx.db, request_id)[0]
    send_to_approver(ctx, request_id, first, purpose="request", cause=inbound.id)
    reply_to_sender(ctx, inbound, "gift_received", request_id=request_id,
                    approver_name=name_of(ctx, first["approver"]), amount=format_amount(request.amount))
    return Outcome("processed", f"gift request G-{request_id} (¥{format_amount(request.amount)}) "
                   f"sent to {first['approver']}, step 1 of {len(chain)}")


def approver_chain(cfg, rep, amount: Decimal) -> list[tuple[str, str]]:
    """Return (level, approver email) in order: the unit head, then one step per threshold reached."""
    org = cfg.organisation
    chain = [("unit_head", org.units[rep.unit].head.email)]
    for threshold in cfg.policy.gift.thresholds:
        if amount >= threshold.amount and org.leadership:
            step = ("leadership", org.leadership[0].email)
            if step not in chain:
                chain.append(step)
    # Nobody approves their own request: a unit head applying goes straight to the next level.
    chain = [step for step in chain if step[1] != rep.email] or [("leadership", org.leadership[0].email)]
    return chain


def budget_period(cfg, when: datetime) -> str:
    """Return the budget period containing when: '2026-11', '2026-Q4' or '2026'."""
    period = cfg.policy.gift.budget_period
    if period == "year":
        return f"{when.year}"
    if period == "quarter":
        return f"{when.year}-Q{(when.month - 1) // 3 + 1}"
    return f"{when.year}-{when.month:02d}"


def budget_remaining(ctx: Context, unit: str, period: str) -> Decimal | None:
    """Return the unit's budget left in period after approved requests, or None if it has none."""
    budget = ctx.cfg.policy.gift.budgets.get(unit)
    if budget is None:
        return None
    return budget - gifts.approved_total(ctx.db, unit, period)


def send_to_approver(ctx: Context, request_id: int, step: dict, *, purpose: str, cause: int | None) -> str:
    """Mail the request (summary, budget, how to reply, the filled form) to the step's approver."""
    request = gifts.get_request(ctx.db, request_id)
    remaining = budget_remaining(ctx, request["unit"], request["budget_period"])
    amount = Decimal(request["amount"])
    message_id = ctx.send(
        "gift_approval", to=[step["approver"]], cause_message=cause,
        attachments=[FileAttachment(f"赠送礼品预算申请表-G-{request_id}.docx", form_bytes(ctx, request_id),
                                    DOCX_TYPE)],
        **_mail_vars(ctx, request, step), purpose=purpose,
        budget_remaining=_money(format_amount(remaining)) if remaining is not None else None,
        over_budget=remaining is not None and amount > remaining,
        token=step["token"])
    gifts.record_mail(ctx.db, message_id=message_id, step=step["id"], purpose=purpose)
    if purpose == "request":
        gifts.update_step(ctx.db, step["id"], state="pending", sent_at=now())
    return message_id


def form_bytes(ctx: Context, request_id: int) -> bytes:
    """Fill the 赠送礼品预算申请表 with the request and its approval trail so far."""
    from ..documents.docx_forms import render_gift_form

    request = gifts.get_request(ctx.db, request_id)
    org = ctx.cfg.organisation
    remaining = budget_remaining(ctx, request["unit"], request["budget_period"])
    trail = []
    for step in gifts.steps(ctx.db, request_id):
        if step["state"] in ("approved", "rejected", "escalated"):
            trail.append({"step": str(step["seq"]), "approver": name_of(ctx, step["approver"]),
                          "decision": {"approved": "同意 Approved", "rejected": "驳回 Rejected",
                                       "escalated": "超时上报 Escalated"}[step["state"]],
                          "comment": step["comment"] or "", "time": _local(ctx, step["decided_at"] or step["escalated_at"])})
    status = {"pending": "审批中 Pending", "approved": "已批准 Approved", "rejected": "已驳回 Rejected"}[request["state"]]
    return render_gift_form({
        "number": f"G-{request_id}", "requester_name": name_of(ctx, request["requester"]),
        "unit_name": org.units[request["unit"]].name, "region_name": org.regions[request["region"]].name,
        "customer": request["customer"], "items": request["items"], "quantity": request["quantity"] or "",
        "amount": _money(request["amount"]), "reason": request["reason"],
        "planned_date": request["planned_date"] or "", "applied_at": _local(ctx, request["created_at"]),
        "budget_remaining": "—" if remaining is None else f"¥{_money(format_amount(remaining))}",
        "trail": trail, "status": status,
    })


@dataclass(frozen=True)
class Target:
    request: dict
    step: dict | None  # the step the reply answers (by its references), None when found by tag only
    via: str


def find_target(ctx: Context, msg: DecodedMessage) -> Target | None:
    """Return the gift request a reply is about: by its references, else by the [VF-G-n] tag."""
    for ref in msg.in_reply_to + list(reversed(msg.references)):
        step = gifts.step_by_mail(ctx.db, ref)
        if step:
            return Target(gifts.get_request(ctx.db, step["request"]), step, f"references <{ref}>")
    match = TAG_RE.search(msg.subject)
    if match:
        request = gifts.get_request(ctx.db, int(match[1]))
        if request:
            return Target(request, None, f"subject tag {match[0]}")
    return None


def on_reply(ctx: Context, inbound: Inbound, target: Target, decision) -> Outcome:
    """Apply an approver's reply to the request, or refuse it with the reason (audited, explained)."""
    msg = inbound.msg
    request = target.request
    rid = request["id"]
    current = gifts.current_step(ctx.db, rid)
    subject = f"gift:{rid}"
    refusal = _refusal(ctx, msg, request, current, target)
    if refusal:
        audit(ctx.db, subject=subject, action="refused", reason=refusal, actor=msg.from_addr, message=inbound.id)
        reply_to_sender(ctx, inbound, "gift_refused", recipients=_told_of_refusal(ctx, msg, refusal),
                        request_id=rid, reason_code=refusal.split(":")[0], reason=refusal, customer=request["customer"])
        return Outcome("rejected", f"G-{rid}: reply refused: {refusal}")
    if decision.decision not in ("approve", "reject"):
        audit(ctx.db, subject=subject, action="no_decision", reason=f"reply starts with {decision.own_text[:40]!r}",
              actor=msg.from_addr, message=inbound.id)
        reply_to_sender(ctx, inbound, "gift_no_decision", request_id=rid, customer=request["customer"])
        return Outcome("rejected", f"G-{rid}: reply decides nothing, asked to answer 同意 or 驳回")

    approved = decision.decision == "approve"
    gifts.update_step(ctx.db, current["id"], state="approved" if approved else "rejected", decided_at=now(),
                      comment=decision.comment, decided_by_message=inbound.id)
    audit(ctx.db, subject=subject, action=decision.decision, reason=decision.comment or "(no comment)",
          actor=msg.from_addr, message=inbound.id)
    following = gifts.next_waiting_step(ctx.db, rid)
    if approved and following:
        send_to_approver(ctx, rid, following, purpose="request", cause=inbound.id)
        _tell_requester(ctx, request, "step_approved", cause=inbound.id, step=current, comment=decision.comment,
                        next_approver=name_of(ctx, following["approver"]))
        return Outcome("processed", f"G-{rid}: step {current['seq']} approved by {msg.from_addr}, "
                       f"sent on to {following['approver']}")
    gifts.finish_request(ctx.db, rid, state="approved" if approved else "rejected")
    _tell_requester(ctx, request, "approved" if approved else "rejected", cause=inbound.id, step=current,
                    comment=decision.comment, next_approver=None, final=True)
    return Outcome("processed", f"G-{rid}: {'approved' if approved else 'rejected'} by {msg.from_addr}")


def _told_of_refusal(ctx: Context, msg: DecodedMessage, refusal: str) -> list[str]:
    """Return who hears of a refused reply: its sender, or with several authors each one we know.

    Strangers are never written to (no backscatter); an approver whose address was put next
    to someone else's learns that a decision was tried in their name.
    """
    if not refusal.startswith("ambiguous_sender"):
        return [msg.from_addr]
    authors, sender = author_mailboxes(msg)
    return [a for a in dict.fromkeys([*authors, sender]) if a and ctx.cfg.person(a)]


def _refusal(ctx: Context, msg: DecodedMessage, request: dict, current: dict | None, target: Target) -> str | None:
    """Return why this reply may not decide the request, or None when it may."""
    if request["state"] != "pending" or current is None:
        return f"decided: request G-{request['id']} is already {request['state']}"
    if target.step is not None and target.step["id"] != current["id"]:
        return (f"old_step: the reply answers step {target.step['seq']} ({target.step['state']}), "
                f"the request is now at step {current['seq']}")
    ambiguous = identity_problem(msg)
    if ambiguous:
        return ambiguous
    if msg.from_addr != current["approver"]:
        return f"not_approver: {msg.from_addr} is not the approver of step {current['seq']} ({current['approver']})"
    if target.step is None and current["token"] not in (msg.text + msg.html + msg.subject):
        return "no_token: the reply neither references the request mail nor carries its approval code"
    return authentication_problem(msg, ctx.cfg)


def _tell_requester(ctx: Context, request: dict, event: str, *, cause: int, step: dict, comment: str,
                    next_approver: str | None, final: bool = False) -> None:
    head = ctx.cfg.organisation.units[request["unit"]].head.email
    attachments = []
    if final:
        attachments = [FileAttachment(f"赠送礼品预算申请表-G-{request['id']}.docx", form_bytes(ctx, request["id"]),
                                      DOCX_TYPE)]
    ctx.send("gift_outcome", to=[request["requester"]], cc=[head] if head != request["requester"] else [],
             cause_message=cause, attachments=attachments, **_mail_vars(ctx, gifts.get_request(ctx.db, request["id"]), step),
             event=event, comment=comment, decider_name=name_of(ctx, step["approver"]),
             next_approver=next_approver)


def _mail_vars(ctx: Context, request: dict, step: dict) -> dict:
    org = ctx.cfg.organisation
    return {
        "request_id": request["id"], "requester_name": name_of(ctx, request["requester"]),
        "requester_email": request["requester"], "unit_name": org.units[request["unit"]].name,
        "region_name": org.regions[request["region"]].name, "customer": request["customer"],
        "items": request["items"], "quantity": request["quantity"], "amount": _money(request["amount"]),
        "reason": request["reason"], "planned_date": request["planned_date"],
        "step_seq": step["seq"], "step_count": len(gifts.steps(ctx.db, request["id"])),
        "approver_name": name_of(ctx, step["approver"]),
    }


def _money(amount: str) -> str:
    return f"{Decimal(amount):,.2f}"


def _local(ctx: Context, stamp: str | None) -> str:
    if not stamp:
        return ""
    return datetime.fromisoformat(stamp).astimezone(ctx.cfg.policy.zone).strftime("%Y-%m-%d %H:%M")


# -- scheduled jobs -----------------------------------------------------------------------------

def remind(ctx: Context, at: datetime) -> str:
    """Remind each approver whose step has waited longer than the reminder delay (once per step)."""
    due = at.astimezone(timezone.utc) - timedelta(hours=ctx.cfg.policy.gift.reminder_hours)
    count = 0
    for step in gifts.pending_steps(ctx.db, sent_before=due.isoformat(), flag="reminded_at"):
        send_to_approver(ctx, step["request"], step, purpose="reminder", cause=None)
        gifts.update_step(ctx.db, step["id"], reminded_at=now())
        audit(ctx.db, subject=f"gift:{step['request']}", action="reminded", reason=f"step {step['seq']}",
              actor=step["approver"])
        count += 1
    return f"{count} reminder(s) sent"


def escalate(ctx: Context, at: datetime) -> str:
    """Pass each step that waited longer than the escalation delay to the next level; tell the requester."""
    due = at.astimezone(timezone.utc) - timedelta(hours=ctx.cfg.policy.gift.escalate_hours)
    org = ctx.cfg.organisation
    count = 0
    for step in gifts.pending_steps(ctx.db, sent_before=due.isoformat(), flag="escalated_at"):
        request = gifts.get_request(ctx.db, step["request"])
        following = gifts.next_waiting_step(ctx.db, request["id"])
        if following is None and step["level"] == "leadership":
            gifts.update_step(ctx.db, step["id"], escalated_at=now())  # nobody above: keep waiting
            continue
        gifts.update_step(ctx.db, step["id"], state="escalated", escalated_at=now())
        if following is None:
            following = gifts.add_step(ctx.db, request["id"], level="leadership",
                                       approver=org.leadership[0].email, token=secrets.token_hex(16))
        send_to_approver(ctx, request["id"], following, purpose="request", cause=None)
        audit(ctx.db, subject=f"gift:{request['id']}", action="escalated",
              reason=f"step {step['seq']} ({step['approver']}) unanswered after "
                     f"{ctx.cfg.policy.gift.escalate_hours:g} h, now {following['approver']}", actor="scheduler")
        _tell_requester(ctx, request, "escalated", cause=request["message"], step=step, comment="",
                        next_approver=name_of(ctx, following["approver"]))
        count += 1
    return f"{count} request(s) escalated"
