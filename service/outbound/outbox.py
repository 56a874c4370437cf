"""Queue outgoing mail in the database, in the caller's transaction.

A mail is rendered and given its Message-ID when it is queued, and stored as the exact bytes
that will go over SMTP: a retry after a crash sends the same mail, recognisable as such.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr
from datetime import datetime, timezone

from sqlite_utils import Database

from ..store.db import now
from .render import RenderedMail

# RFC 3834: every mail the service sends says it is automatic, so well-behaved
# auto-responders never answer it and loops cannot start.
AUTO_HEADERS = {
    "Auto-Submitted": "auto-generated",
    "X-Auto-Response-Suppress": "All",
}


@dataclass(frozen=True)
class FileAttachment:
    filename: str
    content: bytes
    mime_type: str = "application/octet-stream"


def new_message_id(service_address: str) -> str:
    """Return a fresh, globally unique Message-ID (without angle brackets) in the service's domain."""
    domain = service_address.rpartition("@")[2] or "visitflow.invalid"
    return f"vf.{uuid.uuid4().hex}@{domain}"


def build_message(*, mail: RenderedMail, sender: str, sender_name: str, to: Sequence[str],
                  cc: Sequence[str] = (), message_id: str, in_reply_to: str | None = None,
                  references: Sequence[str] = (), attachments: Iterable[FileAttachment] = (),
                  extra_headers: dict[str, str] | None = None) -> EmailMessage:
    """Build the MIME message: text and HTML alternatives, attachments, threading headers."""
    msg = EmailMessage()
    msg["From"] = formataddr((sender_name, sender))
    msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    msg["Subject"] = mail.subject
    msg["Date"] = format_datetime(datetime.now(timezone.utc))
    msg["Message-ID"] = f"<{message_id}>"
    if in_reply_to:
        msg["In-Reply-To"] = f"<{in_reply_to}>"
    refs = [r for r in references if r] + ([in_reply_to] if in_reply_to and in_reply_to not in references else [])
    if refs:
        msg["References"] = " ".join(f"<{r}>" for r in refs[-20:])
    for name, value in {**AUTO_HEADERS, **(extra_headers or {})}.items():
        msg[name] = value
    msg.set_content(mail.text, cte="8bit" if mail.text.isascii() else "base64")
    msg.add_alternative(mail.html, subtype="html")
    for item in attachments:
        maintype, _, subtype = item.mime_type.partition("/")
        msg.add_attachment(item.content, maintype=maintype, subtype=subtype or "octet-stream",
                           filename=item.filename)
    return msg


def queue(db: Database, *, template: str, msg: EmailMessage, recipients: Sequence[str],
          cause_message: int | None = None) -> int:
    """Store msg in the outbox for the sender thread; returns the outbox row id."""
    stamp = now()
    return db["outbox"].insert({
        "message_id": str(msg["Message-ID"]).strip("<>"),
        "template": template,
        "cause_message": cause_message,
        "sender": msg["From"],
        "recipients": json.dumps(sorted(set(r.lower() for r in recipients))),
        "subject": str(msg["Subject"]),
        "raw": msg.as_bytes(policy=SMTP),
        "state": "queued",
        "attempts": 0,
        "next_attempt_at": stamp,
        "created_at": stamp,
    }).last_pk
