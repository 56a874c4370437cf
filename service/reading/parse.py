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

    Kinds without a reader (ignored, unrecognized) keep no fields. Problems are worded in
    the sender's language. Returns ``result``; never raises on bad input.
    """
    reader = READERS.get(result.kind)
    if reader:
        reader(msg, cfg, result)
    return result


def _language(msg: DecodedMessage, cfg: Config) -> str:
    return cfg.language_for(msg.from_addr) if msg.from_addr else cfg.policy.language


def _daily(msg: DecodedMessage, cfg: Config, result: ReadResult) -> None:
    from .daily import read_daily_report

    report = read_daily_report(msg, cfg)
    result.problems.extend(p.text(_language(msg, cfg)) for p in report.problems)
    result.fields.update(report.as_json())


def _gift(msg: DecodedMessage, cfg: Config, result: ReadResult) -> None:
    from .gift import read_gift_request

    request = read_gift_request(msg, cfg)
    result.problems.extend(p.text(_language(msg, cfg)) for p in request.problems)
    result.fields.update(request.as_json())


def _reply(msg: DecodedMessage, cfg: Config, result: ReadResult) -> None:
    from .replies import read_decision

    decision = read_decision(msg)
    result.fields.update(decision=decision.decision, numbers=decision.numbers, comment=decision.comment)


READERS = {"daily_report": _daily, "gift_request": _gift, "reply": _reply}
