"""Conversations (threads) of the mail we send, and the automatic answers counted in them.

A thread key names one conversation: every outbox row carries the key of the conversation
it belongs to, so an inbound reply that references any mail of ours continues that
conversation, however many rounds a correspondent's client has added. Inbound mail that
references none of ours starts a conversation keyed by its root Message-ID; without any
threading headers, a subject equal to one of our latest answers to that correspondent
(reply prefixes aside) continues that answer's conversation, and any other subject starts
one keyed by correspondent, local day and subject.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from sqlite_utils import Database

from .db import now

RECEIPT, AUTO, NOTE = "receipt", "auto", "note"
# Reply and forward prefixes of common clients (en, zh, de, fr, es…), repeated or bracketed.
_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|fw|fwd|aw|wg|sv|vs|tr|rv|答复|回复|回覆|转发|轉寄|转)\s*(?:\[\d+\])?\s*[:：]\s*)+",
                           re.I)


def strip_reply_prefixes(subject: str) -> str:
    """Return ``subject`` without the reply and forward prefixes clients put before it."""
    previous = None
    text = subject
    while previous != text:  # "Re: 回复: Re:"
        previous = text
        text = _REPLY_PREFIX.sub("", text)
    return text.strip()


def conversation_subject(subject: str) -> str:
    """Return ``subject`` without reply prefixes, case- and space-folded (for thread keys)."""
    return " ".join(strip_reply_prefixes(subject).split()).lower()[:200]


def thread_of(db: Database, *, message_id: str, in_reply_to: list[str], references: list[str],
              correspondent: str, subject: str, day: str) -> str:
    """Return the thread key of an inbound mail (see the module docstring).

    ``day`` is the local date (ISO) the mail arrived, used only for mail without threading
    headers. Never raises.
    """
    refs = [*in_reply_to, *reversed(references)]
    for ref in refs:
        row = db.execute("SELECT thread FROM outbox WHERE message_id = ?", [ref]).fetchone()
        if row and row[0]:
            return row[0]
    if references:
        return f"mid:{references[0]}"
    if in_reply_to:
        return f"mid:{in_reply_to[0]}"
    key = conversation_subject(subject)
    # A client that drops the threading headers but sends our own subject back continues
    # the conversation of the answer that had it (looked for among the latest answers).
    row = db.execute("SELECT thread FROM (SELECT thread, topic FROM outbox WHERE correspondent = ? "
                     "ORDER BY created_at DESC LIMIT 50) WHERE topic = ? AND thread IS NOT NULL LIMIT 1",
                     [correspondent, key]).fetchone()
    if row:
        return row[0]
    return f"subj:{correspondent}:{day}:{key}"


def answers_in_thread(db: Database, thread: str, correspondent: str, kinds: tuple[str, ...]) -> int:
    """Return how many answers of ``kinds`` went to ``correspondent`` in ``thread``."""
    marks = ", ".join("?" * len(kinds))
    return db.execute(f"SELECT count(*) FROM outbox WHERE thread = ? AND correspondent = ? AND answer IN ({marks})",
                      [thread, correspondent, *kinds]).fetchone()[0]


def recent_automatic_answers(db: Database, correspondent: str, minutes: float) -> int:
    """Return how many automatic answers (auto, note) went to ``correspondent`` in the last ``minutes``."""
    since = (datetime.now(timezone.utc) - timedelta(minutes=minutes)).isoformat(timespec="milliseconds")
    return db.execute("SELECT count(*) FROM outbox WHERE correspondent = ? AND answer IN ('auto', 'note') "
                      "AND created_at >= ?", [correspondent, since]).fetchone()[0]


def withhold(db: Database, *, message: int | None, correspondent: str, template: str, reason: str) -> None:
    """Record that an answer was held back, and why (in the caller's transaction)."""
    db.execute("INSERT INTO withheld_answers (message, correspondent, template, reason, at) VALUES (?, ?, ?, ?, ?)",
               [message, correspondent, template, reason, now()])


def throttled(db: Database, minutes: float) -> list[dict]:
    """Return who had answers held back in the last ``minutes``: correspondent, count, last, reason."""
    since = (datetime.now(timezone.utc) - timedelta(minutes=minutes)).isoformat(timespec="milliseconds")
    rows = db.execute(
        "SELECT correspondent, count(*), max(at), "
        "(SELECT reason FROM withheld_answers w2 WHERE w2.correspondent = w.correspondent ORDER BY id DESC LIMIT 1) "
        "FROM withheld_answers w WHERE at >= ? GROUP BY correspondent ORDER BY count(*) DESC", [since]).fetchall()
    return [{"correspondent": r[0], "withheld": r[1], "last": r[2], "reason": r[3]} for r in rows]
