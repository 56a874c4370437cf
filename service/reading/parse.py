"""Read a classified message into the fields `visitflow parse --json` prints (spec §6)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config import Config
from ..inbound.mime import DecodedMessage


@dataclass
class ReadResult:
    """Hold what `parse` shows: the kind and rule that classified a mail, its problems and fields."""

    kind: str
    rule: str
    reason: str
    problems: list[str] = field(default_factory=list)
    fields: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        """Return the object `parse --json` prints (spec §6)."""
        return {"kind": self.kind, "problems": self.problems, **self.fields}


def read_fields(result: ReadResult, msg: DecodedMessage, cfg: Config) -> ReadResult:
    """Fill ``result`` with the fields and problems of ``msg`` read as ``result.kind``.

    Kinds without a reader (ignored, unrecognized) keep no fields but ``attachments``, which
    every kind lists: each file's name, type, size and ``use`` (card, form, body_image,
    refused, or ignored where the workflow keeps none) with its ``reason``. Problems are
    worded in the sender's language. Returns ``result``; never raises on bad input.
    """
    reader = READERS.get(result.kind)
    if reader:
        reader(msg, cfg, result)
    if "attachments" not in result.fields:
        result.fields["attachments"] = [
            _attachment(a, "body_image", _body_image_reason(a)) if a.body_image
            else _attachment(a, "ignored", f"only daily reports keep attachments; this mail is {result.kind}")
            for a in msg.attachments]
    return result


def _language(msg: DecodedMessage, cfg: Config) -> str:
    return cfg.language_for(msg.from_addr) if msg.from_addr else cfg.policy.language


def _daily(msg: DecodedMessage, cfg: Config, result: ReadResult) -> None:
    from .daily import read_daily_report

    report = read_daily_report(msg, cfg)
    result.problems.extend(p.text(_language(msg, cfg)) for p in report.problems)
    result.fields.update(report.as_json())
    result.fields["attachments"] = _daily_attachments(msg, report, cfg)


def _daily_attachments(msg: DecodedMessage, report, cfg: Config) -> list[dict]:
    """List what the daemon does with each attachment of a daily report, in message order.

    Cards are judged as the daily-report workflow judges them (service.store.cards.judge); a
    rejected report keeps nothing, whatever its attachments' use would be.
    """
    from ..store.cards import judge
    from .doctype import LABELS

    policy = cfg.policy
    refused = {id(r.attachment): r.detail for r in report.refused}
    listed = []
    for a in msg.attachments:
        if a.body_image:
            listed.append(_attachment(a, "body_image", _body_image_reason(a)))
        elif a is report.form:
            how = "the daily report form" if report.form_kind == "docx" else \
                f"the daily report form, converted from {LABELS[report.form_kind]} to .docx"
            listed.append(_attachment(a, "form", how))
        elif id(a) in refused:
            listed.append(_attachment(a, "refused", f"not read as the form: {refused[id(a)]}"))
        else:
            verdict = judge(a.payload, max_bytes=policy.max_attachment_bytes, max_unzipped=policy.max_unzipped_bytes,
                            damage=a.damage)
            listed.append(_attachment(a, "card", None) if verdict.kept
                          else _attachment(a, "refused", _card_refusal(verdict.reason, policy)))
    return listed


def _attachment(a, use: str, reason: str | None) -> dict:
    return {"filename": a.filename, "content_type": a.content_type, "bytes": len(a.payload),
            "use": use, "reason": reason}


def _body_image_reason(a) -> str:
    return f"an image the HTML body shows (cid:{a.content_id})"


def _card_refusal(code: str, policy) -> str:
    if code == "too_large":
        return f"larger than the {policy.max_attachment_bytes:,}-byte attachment limit"
    if code == "archive_too_large":
        return f"would unpack beyond the {policy.max_unzipped_bytes:,}-byte limit (suspected zip bomb)"
    if code == "broken_archive":
        return "a broken archive"
    if code == "damaged":
        return "its transfer encoding is damaged: the file cannot be restored"
    return code


def _gift(msg: DecodedMessage, cfg: Config, result: ReadResult) -> None:
    from .gift import read_gift_request

    request = read_gift_request(msg, cfg)
    result.problems.extend(p.text(_language(msg, cfg)) for p in request.problems)
    result.fields.update(request.as_json())


def _reply(msg: DecodedMessage, cfg: Config, result: ReadResult) -> None:
    from .replies import read_decision

    decision = read_decision(msg)
    result.fields.update(decision=decision.decision, numbers=decision.numbers, comment=decision.comment)


def _urgent(msg: DecodedMessage, cfg: Config, result: ReadResult) -> None:
    from .urgent import read_urgent_report

    report = read_urgent_report(msg, cfg)
    result.problems.extend(p.text(_language(msg, cfg)) for p in report.problems)
    result.fields.update(report.as_json())


def _plan(msg: DecodedMessage, cfg: Config, result: ReadResult) -> None:
    from .plans import find_plan_files, read_plan_mail

    plan = read_plan_mail(msg, cfg)
    result.problems.extend(p.text(_language(msg, cfg)) for p in plan.problems)
    result.fields.update(plan.as_json())
    files = find_plan_files(msg.attachments)
    read = files[0] if len(files) == 1 and plan.source else None
    result.fields["attachments"] = [
        _attachment(a, "body_image", _body_image_reason(a)) if a.body_image
        else _attachment(a, "form", "read as the visit plan") if a is read
        else _attachment(a, "ignored", "a visit plan mail keeps no attachments") for a in msg.attachments]


READERS = {"daily_report": _daily, "gift_request": _gift, "urgent_report": _urgent, "reply": _reply,
           "visit_plan": _plan}
