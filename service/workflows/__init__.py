"""Workflows: what happens to a classified message. One module per workflow.

A workflow's ``handle(ctx, inbound)`` runs inside the message's transaction: it may store
records and queue mail through ``ctx``, and returns the Outcome written on the message.
It never talks to IMAP or SMTP itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ..classify import Verdict
from ..inbound.mime import DecodedMessage


@dataclass(frozen=True)
class Inbound:
    id: int  # messages.id
    msg: DecodedMessage
    verdict: Verdict


@dataclass(frozen=True)
class Outcome:
    state: str  # processed | rejected | quarantined | ignored
    reason: str


Handler = Callable[["object", Inbound], Outcome]


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
