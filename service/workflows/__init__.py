"""Workflows: what happens to a classified message. One module per workflow.

A workflow's ``handle(ctx, inbound)`` runs inside the message's transaction: it may store
records and queue mail through ``ctx``, and returns the Outcome written on the message.
It never talks to IMAP or SMTP itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar
from types import MappingProxyType

from ..classify import Verdict
from ..config import Config
from ..inbound.mime import DecodedMessage

T = TypeVar("T")


@dataclass(frozen=True)
class Inbound:
    id: int  # messages.id
    msg: DecodedMessage
    verdict: Verdict
    # (reader, its result) when a worker process already read the mail (service.workers).
    reading: tuple[Callable, object] | None = None

    def read(self, reader: Callable[[DecodedMessage, Config], T], cfg: Config) -> T:
        """Return ``reader(self.msg, cfg)``: what a worker already read, or read now."""
        if self.reading is not None and self.reading[0] is reader:
            return self.reading[1]
        return reader(self.msg, cfg)


@dataclass(frozen=True)
class Outcome:
    state: str  # processed | rejected | quarantined | ignored
    reason: str


Handler = Callable[["object", Inbound], Outcome]


def default_readers() -> Mapping[str, Callable[[DecodedMessage, Config], object]]:
    """Return the pure reader each kind's workflow reads its mail with (``Inbound.read``).

    Worker processes run them ahead of the writer (service.workers); a reader here must touch
    neither the database nor a server and must give the same result wherever it runs.
    """
    from ..reading.daily import read_daily_report
    from ..reading.gift import read_gift_request
    from ..reading.urgent import read_urgent_report

    return MappingProxyType({
        "daily_report": read_daily_report,
        "gift_request": read_gift_request,
        "urgent_report": read_urgent_report,
    })


def default_drafters() -> Mapping[str, Callable]:
    """Return, per kind, the function that drafts its workflow's mail ahead in a worker process
    (``draft(drafter, msg, reading)``, see service.workers.Drafter): the kinds a backlog is
    made of."""
    from . import daily_report

    return MappingProxyType({"daily_report": daily_report.draft})


def default_handlers() -> Mapping[str, Handler]:
    """Return the workflow for each message kind."""
    from . import daily_report, gift_approval, help, replies, urgent_report, visit_plan

    return MappingProxyType({
        "ignored": help.ignore,
        "quarantined": help.quarantine,
        "unrecognized": help.unrecognized,
        "too_large": help.too_large,
        "reply": replies.handle,
        "daily_report": daily_report.handle,
        "gift_request": gift_approval.handle,
        "urgent_report": urgent_report.handle,
        "visit_plan": visit_plan.handle,
    })
