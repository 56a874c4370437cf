"""Read a message the way the daemon would, without changing anything (`visitflow parse`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config import Config
from .classify import DAILY_REPORT, GIFT_REQUEST, QUARANTINED, REPLY, classify
from .decode import DecodedMessage, decode_message


@dataclass
class ReadResult:
    kind: str
    rule: str
    reason: str
    problems: list[str] = field(default_factory=list)
    fields: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        """Return the object `parse --json` prints (spec §6)."""
        return {"kind": self.kind, "problems": self.problems, **self.fields}


def read_message(raw: bytes, cfg: Config) -> ReadResult:
    """Classify and read raw mail; a stranger's mail is read as if known, with a problem saying so."""
    msg = decode_message(raw)
    verdict = classify(msg, cfg)
    problems: list[str] = []
    if verdict.kind == QUARANTINED:
        problems.append(f"{verdict.reason}: the daemon would quarantine it without reply")
        verdict = classify(msg, cfg, skip=frozenset({"unknown_sender"}))
    result = ReadResult(kind=verdict.kind, rule=verdict.rule, reason=verdict.reason, problems=problems)
    reader = READERS.get(verdict.kind)
    if reader:
        reader(msg, cfg, result)
    return result


def _daily(msg: DecodedMessage, cfg: Config, result: ReadResult) -> None:
    from .daily import read_daily_report

    report = read_daily_report(msg, cfg)
    language = cfg.language_for(msg.from_addr) if msg.from_addr else cfg.policy.language
    result.problems.extend(p.text(language) for p in report.problems)
    result.fields.update(report.as_json())


def _gift(msg: DecodedMessage, cfg: Config, result: ReadResult) -> None:
    from .gift import read_gift_request

    request = read_gift_request(msg, cfg)
    language = cfg.language_for(msg.from_addr) if msg.from_addr else cfg.policy.language
    result.problems.extend(p.text(language) for p in request.problems)
    result.fields.update(request.as_json())


def _reply(msg: DecodedMessage, cfg: Config, result: ReadResult) -> None:
    from .replies import read_decision

    decision = read_decision(msg)
    result.fields.update(decision=decision.decision, numbers=decision.numbers, comment=decision.comment)


READERS = {DAILY_REPORT: _daily, GIFT_REQUEST: _gift, REPLY: _reply}
