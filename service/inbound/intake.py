"""Bring new mail in: record it, process it, then move it – in that order, always.

1. Fetch the UIDs above the folder's watermark (without setting \\Seen).
2. Record each message with its raw bytes and advance the watermark, in one transaction.
3. Process each recorded message in its own transaction: classify, run the workflow, write
   its outcome and the mail it causes. A failure rolls that back, counts an attempt and moves
   on; after ``policy.max_attempts`` the message is quarantined.
4. Make the commits durable, then move settled messages out of the inbox with UID MOVE.

A crash between any two steps is safe: a recorded message is never fetched twice (the UID
is unique), an unprocessed one is processed at the next start, and a settled one still in
the inbox is moved then.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..context import Context
from ..store import messages
from ..store.db import make_durable, now, transaction
from ..workflows import Handler, Inbound, default_handlers
from .classify import classify
from .decode import DecodedMessage, decode_message
from .imap import Connection

log = logging.getLogger("visitflow.intake")


@dataclass
class PollResult:
    fetched: int = 0
    settled: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    failed: int = 0
    moved: int = 0
    retry_pending: bool = False

    @property
    def processed(self) -> int:
        return sum(self.settled.values())


class Intake:
    """Runs the inbound pipeline for one context (one thread, one database connection)."""

    def __init__(self, ctx: Context, *, handlers: Mapping[str, Handler] | None = None) -> None:
        self.ctx = ctx
        self.handlers = handlers or default_handlers()
        self.folders = ctx.cfg.imap.folders
        self._next_retry = 0.0

    def poll(self, conn: Connection) -> PollResult:
        """Fetch, record, process and move everything waiting; repeat until nothing is new."""
        result = PollResult()
        inbox = self.folders.inbox
        uidvalidity = conn.select(inbox)
        last_uid = self._last_uid(uidvalidity)
        while True:
            uids = conn.uids_after(last_uid)
            if not uids:
                break
            # Record and process in batches, so a large backlog starts moving out of the
            # inbox early and memory stays flat.
            batch = self.ctx.cfg.imap.fetch_batch
            for start in range(0, len(uids), batch):
                for fetched in conn.fetch_raw(uids[start:start + batch], batch):
                    recorded, msg = self.record(inbox, uidvalidity, fetched.uid, fetched.raw)
                    result.fetched += 1
                    if recorded.new and recorded.duplicate_of is None:
                        self.process(recorded.id, result, msg=msg)
                    elif recorded.new:
                        result.settled["ignored"] += 1
                # A UID that vanished between SEARCH and FETCH must not be searched forever.
                last_uid = max(last_uid, *uids[start:start + batch])
                self._set_watermark(inbox, uidvalidity, last_uid)
                result.moved += self.move_settled(conn)
        self.process_pending(result)
        result.moved += self.move_settled(conn)
        with transaction(self.ctx.db):
            messages.set_state(self.ctx.db, "last_imap_contact", now())
        return result

    def process_pending(self, result: PollResult) -> None:
        """Process recorded messages not yet settled: new ones now, failed ones after their delay."""
        pending = messages.pending(self.ctx.db, self.ctx.cfg.policy.max_attempts)
        retry_due = time.monotonic() >= self._next_retry
        retried = False
        for row in pending:
            # attempts == 0: recorded just before a crash, never tried.
            if row["attempts"] == 0 or retry_due:
                retried = retried or row["attempts"] > 0
                self.process(row["id"], result)
        if retried:
            self._next_retry = time.monotonic() + self.ctx.cfg.policy.retry_seconds
        result.retry_pending = bool(messages.pending(self.ctx.db, self.ctx.cfg.policy.max_attempts))

    def seconds_to_retry(self) -> float:
        """Return how long until failed messages may be tried again."""
        return max(0.0, self._next_retry - time.monotonic())

    def record(self, folder: str, uidvalidity: int, uid: int, raw: bytes) -> tuple[messages.Recorded, DecodedMessage]:
        """Store one fetched message, its raw bytes and the advanced watermark in one transaction."""
        msg = decode_message(raw)
        with transaction(self.ctx.db) as db:
            recorded = messages.record(
                db, folder=folder, uidvalidity=uidvalidity, uid=uid, raw=raw,
                message_id=msg.message_id, sender=msg.from_addr, subject=msg.subject,
                sent_at=msg.date.isoformat() if msg.date else None)
            messages.set_watermark(db, folder, uidvalidity, uid)
            if recorded.new and recorded.duplicate_of is not None:
                messages.audit(db, subject=f"message:{recorded.id}", action="ignored:duplicate",
                               reason=f"same Message-ID as message #{recorded.duplicate_of}",
                               actor=msg.from_addr, message=recorded.id)
        if recorded.duplicate_of is not None and recorded.new:
            log.info("message #%d <%s> from %s: duplicate of #%d, ignored", recorded.id,
                     msg.message_id, msg.from_addr or "?", recorded.duplicate_of)
        return recorded, msg

    def process(self, message: int, result: PollResult, *, msg: DecodedMessage | None = None) -> None:
        """Classify and handle one recorded message in one transaction; never raises."""
        db = self.ctx.db
        row = messages.get(db, message)
        try:
            if msg is None:
                msg = decode_message(messages.raw_bytes(db, message))
            with transaction(db):
                verdict = classify(msg, self.ctx.cfg)
                messages.audit(db, subject=f"message:{message}", action=f"classified:{verdict.kind}",
                               reason=f"{verdict.rule}: {verdict.reason}", actor=msg.from_addr,
                               message=message)
                outcome = self.handlers[verdict.kind](self.ctx, Inbound(id=message, msg=msg, verdict=verdict))
                messages.settle(db, message, state=outcome.state, kind=verdict.kind, reason=outcome.reason)
            self.ctx.notify_sender()
        except Exception as exc:  # noqa: BLE001 - isolation point: one message must not stop the rest
            self.ctx.queued_since_commit = 0
            self._failed(row, msg, exc, result)
            return
        result.settled[outcome.state] += 1
        log.info("message #%d <%s> from %s: %s by rule %s -> %s (%s)", message, msg.message_id,
                 msg.from_addr or "?", verdict.kind, verdict.rule, outcome.state, outcome.reason)

    def _failed(self, row: dict, msg, exc: Exception, result: PollResult) -> None:
        attempts = row["attempts"] + 1
        final = attempts >= self.ctx.cfg.policy.max_attempts
        error = "".join(traceback.format_exception(exc, limit=8))
        summary = f"{type(exc).__name__}: {exc}"
        reason = (f"processing failed {attempts} time(s), quarantined: {summary}" if final
                  else f"processing failed (attempt {attempts}), will retry: {summary}")
        with transaction(self.ctx.db) as db:
            messages.settle(db, row["id"], state="quarantined" if final else "received", kind=None,
                            reason=reason, error=error)
            messages.audit(db, subject=f"message:{row['id']}", action="quarantined" if final else "failed",
                           reason=reason, message=row["id"])
        result.failed += 1
        if final:
            result.settled["quarantined"] += 1
        log.error("message #%d <%s>: %s", row["id"], msg.message_id if msg else row["message_id"], reason)

    def move_settled(self, conn: Connection) -> int:
        """Move every settled message lying in the wrong folder to its state's folder."""
        rows = self._misplaced()
        if not rows:
            return 0
        # The move makes the IMAP copy invisible to the next poll, so every commit it relies
        # on must survive a power cut first.
        make_durable(self.ctx.db)
        moved = 0
        groups: dict[tuple[str, int, str], list[dict]] = defaultdict(list)
        for row in rows:
            groups[(row["folder"], row["uidvalidity"], self._target(row["state"]))].append(row)
        for (source, uidvalidity, target), group in groups.items():
            current = conn.select(source)
            if current != uidvalidity or any(r["uid"] < 0 for r in group):
                self._lose_location(group, target, why=f"{source} has a new UIDVALIDITY {current}")
                continue
            uids = [r["uid"] for r in group]
            target_validity, new_uids = conn.move(uids, target)
            with transaction(self.ctx.db) as db:
                for r in group:
                    messages.relocate(db, r["id"], folder=target, uidvalidity=target_validity,
                                      uid=new_uids.get(r["uid"]))
            moved += len(group)
        if self.folders.inbox not in {g[0] for g in groups}:
            return moved
        conn.select(self.folders.inbox)
        return moved

    def _misplaced(self) -> list[dict]:
        return list(self.ctx.db.query(
            "SELECT id, folder, uidvalidity, uid, state FROM messages WHERE state != 'received' "
            "AND folder != CASE state WHEN 'quarantined' THEN ? ELSE ? END ORDER BY folder, uid",
            [self.folders.quarantine, self.folders.processed]))

    def _target(self, state: str) -> str:
        return self.folders.quarantine if state == "quarantined" else self.folders.processed

    def _lose_location(self, group: list[dict], target: str, *, why: str) -> None:
        # The server renumbered the folder: these UIDs mean nothing now. The copies will be
        # fetched again and recognised as duplicates by Message-ID, then moved as such.
        log.warning("%d settled message(s) can no longer be found by UID (%s)", len(group), why)
        with transaction(self.ctx.db) as db:
            for r in group:
                messages.relocate(db, r["id"], folder=target, uidvalidity=None, uid=None)

    def _last_uid(self, uidvalidity: int) -> int:
        mark = messages.watermark(self.ctx.db, self.folders.inbox)
        if mark is None:
            return 0
        if mark[0] != uidvalidity:
            log.warning("%s has a new UIDVALIDITY (%d, was %d): fetching it all again; "
                        "mail already seen is recognised by Message-ID", self.folders.inbox,
                        uidvalidity, mark[0])
            return 0
        return mark[1]

    def _set_watermark(self, folder: str, uidvalidity: int, last_uid: int) -> None:
        with transaction(self.ctx.db) as db:
            messages.set_watermark(db, folder, uidvalidity, last_uid)
