"""Bring new mail in: record it, process it, then move it – in that order, always.

1. Fetch the UIDs above the folder's watermark (without setting \\Seen).
2. Record and process a batch of them in one write transaction, advancing the watermark in
   it: each message is recorded with its raw bytes, then processed in a savepoint of its own
   (classify, run the workflow, write its outcome and the mail it causes). A failure rolls
   back that savepoint only, counts an attempt and moves on; after ``policy.max_attempts``
   the message is quarantined.
3. Make the commits and the files they name durable, then move settled messages out of the
   inbox with UID MOVE, in groups of up to MOVE_GROUP.

A crash between any two steps is safe: a crash inside a batch's transaction leaves nothing of
it (the watermark included), so the batch is fetched again; a recorded message is never
fetched twice (the UID is unique); a message recorded but not yet processed (its attempt
failed) is processed later; a settled one still in the inbox is moved at the next start.

In a backlog the IMAP round trips and the sync before a move overlap with steps 2–3 (a
helper thread owns the connection meanwhile, see _ImapRunner); for every message the order
above still holds.
"""

from __future__ import annotations

import contextlib
import logging
import resource
import threading
import time
import traceback
from collections import defaultdict
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from sqlite_utils import Database

from .classify import QUARANTINED, classify
from .config import Config
from .context import Context
from .inbound.imap import Connection, Fetched
from .inbound.mime import DecodedMessage, decode_message
from .memory import release_memory
from .reading.parse import ReadResult, read_fields
from .store import messages
from .store.db import now, sync_to_disk, transaction
from .workers import Prepared, Preparer, Reader, default_workers
from .workflows import Handler, Inbound, Outcome, default_drafters, default_handlers, default_readers

log = logging.getLogger("visitflow.intake")


def read_message(raw: bytes, cfg: Config) -> ReadResult:
    """Decode, classify and read raw mail as the intake would, changing nothing (`parse`).

    A stranger's mail is read as if its sender were known, with a problem saying the daemon
    would quarantine it. Never raises on bad input.
    """
    msg = decode_message(raw, max_bytes=cfg.policy.max_message_bytes)
    verdict = classify(msg, cfg)
    problems: list[str] = []
    if verdict.kind == QUARANTINED:
        problems.append(f"{verdict.reason}: the daemon would quarantine it without reply")
        verdict = classify(msg, cfg, skip=frozenset({"unknown_sender"}))
    result = ReadResult(kind=verdict.kind, rule=verdict.rule, reason=verdict.reason, problems=problems)
    return read_fields(result, msg, cfg)


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
    """Runs the inbound pipeline for one context, on the caller's thread and database connection."""

    def __init__(self, ctx: Context, *, handlers: Mapping[str, Handler] | None = None,
                 readers: Mapping[str, Reader] | None = None, workers: int | None = None,
                 stopping: threading.Event | None = None) -> None:
        """``workers``: processes that prepare a backlog (default: one per CPU; 0: none).
        ``stopping``: once set, no further batch is taken in (the daemon's stop flag)."""
        self.ctx = ctx
        self.stopping = stopping
        self.handlers = handlers or default_handlers()
        self.readers = default_readers() if readers is None else readers
        self.drafters = default_drafters()
        self.workers = default_workers() if workers is None else workers
        self.folders = ctx.cfg.imap.folders
        self._next_retry = 0.0

    def poll(self, conn: Connection) -> PollResult:
        """Fetch, record, process and move everything waiting; repeat until nothing is new."""
        result = PollResult()
        inbox = self.folders.inbox
        uidvalidity = conn.select(inbox)
        last_uid = self._last_uid(uidvalidity)
        while not self._stopping():
            sizes = conn.sizes_after(last_uid)
            if not sizes:
                break
            last_uid = self._take_in(conn, uidvalidity, sizes, last_uid, result)
        self.process_pending(result)
        result.moved += self.move_settled(conn)
        with transaction(self.ctx.db):
            messages.set_state(self.ctx.db, "last_imap_contact", now())
        return result

    def _take_in(self, conn: Connection, uidvalidity: int, sizes: dict[int, int], last_uid: int,
                 result: PollResult) -> int:
        """Record, process and move the inbox's new mail batch by batch; return the new watermark.

        ``sizes`` maps each new UID to its size in bytes. Batches (at most imap.fetch_batch
        mails and FETCH_BYTES, or one larger mail alone) keep memory flat and start a large
        backlog moving out of the inbox early. With more than one batch three things overlap:
        a helper thread owns the IMAP connection (_ImapRunner) and downloads the next batch,
        and syncs the database and moves what is settled; worker processes (service.workers)
        decode, classify and read the batch just downloaded; this thread, the only writer,
        records and processes the batch before, in UID order. A batch larger than FETCH_BYTES
        is prepared and processed here, alone, before the next one is downloaded.
        """
        size = self.ctx.cfg.imap.fetch_batch
        batches = fetch_batches(sizes, size, FETCH_BYTES)
        backlog = len(batches) > 1
        taker = _Taker(self, uidvalidity, last_uid, result)
        cpu = _CpuClock()
        with _ImapRunner(conn, threaded=backlog) as imap, \
                Preparer(self.ctx.cfg, self.readers, workers=self.workers if backlog else 0,
                         drafters=self.drafters) as preparer:
            taker.imap = imap
            try:
                waiting = None  # the batch being prepared while the one before is taken in
                fetch = imap.submit(_fetch, batches[0], size)
                for n, batch in enumerate(batches):
                    if self._stopping():
                        # What is fetched and not taken in was never recorded: the next start
                        # fetches it again. What is settled is still moved below.
                        log.info("stopping in a backlog: %d of %d batches left for the next start",
                                 len(batches) - n + (1 if waiting else 0), len(batches))
                        waiting = None
                        break
                    fetched, fetch = fetch.result(), None
                    raws = [item.raw for item in fetched]
                    if sum(sizes[uid] for uid in batch) > FETCH_BYTES:
                        if waiting:
                            taker.take(*waiting)
                            waiting = None
                        # Not copied to a worker, and nothing else downloaded meanwhile.
                        taker.take(batch, fetched, preparer.prepare_here(raws), last=n + 1 == len(batches))
                        del fetched, raws  # its bytes go now, not when the next batch replaces them
                        release_memory()
                        if n + 1 < len(batches):
                            fetch = imap.submit(_fetch, batches[n + 1], size)
                        continue
                    handle = preparer.submit(raws)
                    if n + 1 < len(batches):
                        fetch = imap.submit(_fetch, batches[n + 1], size)
                    if waiting:
                        taker.take(*waiting)
                    waiting = (batch, fetched, handle)
                if waiting:
                    taker.take(*waiting, last=True)
                result.moved += self._note_moves(taker.moving, wait=True)
            except BaseException:
                # Leaving early: what the server did move is still written down (best effort;
                # a move not written down is done again, harmlessly, by the next poll).
                with contextlib.suppress(Exception):
                    self._note_moves(taker.moving, wait=True, failed_ok=True)
                raise
        if backlog:
            count = max(1, len(sizes))
            writer, workers = cpu.read()
            log.info("backlog of %d message(s) in %d batches, %d worker process(es); CPU per message: "
                     "writer %.0f µs, workers %.0f µs, IMAP thread %.0f µs", len(sizes), len(batches),
                     self.workers, writer / count * 1e6, workers / count * 1e6, imap.cpu / count * 1e6)
        return taker.last_uid

    def _take_batch(self, folder: str, uidvalidity: int, fetched: list[Fetched], prepared: list[Prepared],
                    watermark: int, result: PollResult) -> None:
        """Record and process a fetched batch in one write transaction, then wake the sender.

        ``prepared`` holds each mail decoded, classified and read (service.workers), in the
        order of ``fetched``. Each mail is recorded, then processed in a savepoint of its own
        (a duplicate is only recorded); the folder's watermark becomes ``watermark`` in the
        same transaction. One commit per batch instead of two per mail: a crash before it
        leaves no trace of the batch, which is then fetched again.
        """
        db = self.ctx.db
        before = dict(result.settled), result.failed, result.fetched
        with transaction(db):
            self.ctx.cache.clear()
            for item, ready in zip(fetched, prepared):
                recorded = self._record(db, folder, uidvalidity, item, ready.msg)
                result.fetched += 1
                if recorded.new and recorded.duplicate_of is None:
                    self.process(recorded.id, result, prepared=ready)
                elif recorded.new:
                    result.settled["ignored"] += 1
            messages.set_watermark(db, folder, uidvalidity, watermark)
        self.ctx.notify_sender()
        if fetched:
            settled = {k: v - before[0].get(k, 0) for k, v in result.settled.items() if v != before[0].get(k, 0)}
            log.info("%s: %d message(s) up to UID %d recorded, settled %s, %d failed", folder,
                     result.fetched - before[2], watermark, settled, result.failed - before[1])

    def _stopping(self) -> bool:
        return self.stopping is not None and self.stopping.is_set()

    def process_pending(self, result: PollResult) -> None:
        """Process recorded messages not yet settled: new ones now, failed ones after their delay."""
        pending = messages.pending(self.ctx.db, self.ctx.cfg.policy.max_attempts)
        retry_due = time.monotonic() >= self._next_retry
        retried = False
        waiting = 0  # still 'received' afterwards: not yet due, or failed again with attempts left
        for row in pending:
            # attempts == 0: recorded just before a crash, never tried.
            if row["attempts"] == 0 or retry_due:
                retried = retried or row["attempts"] > 0
                waiting += self.process(row["id"], result) == "received"
            else:
                waiting += 1
        if retried:
            self._next_retry = time.monotonic() + self.ctx.cfg.policy.retry_seconds
        result.retry_pending = waiting > 0

    def seconds_to_retry(self) -> float:
        """Return how long until failed messages may be tried again."""
        return max(0.0, self._next_retry - time.monotonic())

    def record(self, folder: str, uidvalidity: int, uid: int, raw: bytes, *,
               delivered_at: datetime | None = None) -> tuple[messages.Recorded, DecodedMessage]:
        """Store one fetched message, its raw bytes and the advanced watermark in one transaction.

        ``delivered_at`` is the IMAP INTERNALDATE (aware), when the server gave it.
        """
        msg = decode_message(raw, max_bytes=self.ctx.cfg.policy.max_message_bytes)
        with transaction(self.ctx.db) as db:
            recorded = self._record(db, folder, uidvalidity, Fetched(uid, raw, delivered_at), msg)
            messages.set_watermark(db, folder, uidvalidity, uid)
        return recorded, msg

    @staticmethod
    def _record(db: Database, folder: str, uidvalidity: int, item: Fetched, msg: DecodedMessage) -> messages.Recorded:
        """Store one message and its raw bytes in the caller's transaction; audit a duplicate."""
        delivered_at = item.delivered_at
        recorded = messages.record(
            db, folder=folder, uidvalidity=uidvalidity, uid=item.uid, raw=item.raw,
            message_id=msg.message_id, sender=msg.from_addr, subject=msg.subject,
            sent_at=msg.date.isoformat() if msg.date else None,
            delivered_at=delivered_at.isoformat(timespec="milliseconds") if delivered_at else None)
        if recorded.new and recorded.duplicate_of is not None:
            messages.audit(db, subject=f"message:{recorded.id}", action="ignored:duplicate",
                           reason=f"same Message-ID as message #{recorded.duplicate_of}",
                           actor=msg.from_addr, message=recorded.id)
            log.debug("message #%d <%s> from %s: duplicate of #%d, ignored", recorded.id,
                      msg.message_id, msg.from_addr or "?", recorded.duplicate_of)
        return recorded

    def process(self, message: int, result: PollResult, *, msg: DecodedMessage | None = None,
                prepared: Prepared | None = None) -> str:
        """Classify and handle one recorded message in one transaction; never raises on bad mail.

        Inside a caller's transaction (the intake's batch) the message gets a savepoint of its
        own and the caller wakes the sender after its commit. Returns the state it leaves the
        message in ('received' after a failure with attempts left). Raises only when SQLite
        itself rolled back the caller's whole transaction (disk full, I/O error): nothing of
        that batch stands, so it must not go on as if it did. ``prepared`` is the mail as a
        worker process decoded, classified and read it; ``msg`` the decoded mail alone; with
        neither, the stored raw copy is decoded.
        """
        db = self.ctx.db
        batch = db.conn.in_transaction
        queued_before = self.ctx.queued_since_commit
        if not batch:
            self.ctx.cache.clear()
        try:
            if prepared is not None:
                msg = prepared.msg
            elif msg is None:
                msg = decode_message(messages.raw_bytes(db, message), max_bytes=self.ctx.cfg.policy.max_message_bytes)
            with transaction(db):
                verdict = prepared.verdict if prepared is not None else classify(msg, self.ctx.cfg)
                messages.audit(db, subject=f"message:{message}", action=f"classified:{verdict.kind}",
                               reason=f"{verdict.rule}: {verdict.reason}", actor=msg.from_addr,
                               message=message)
                self.ctx.withheld = []
                self.ctx.drafts = list(prepared.drafts) if prepared is not None else []
                inbound = Inbound(id=message, msg=msg, verdict=verdict,
                                  reading=prepared.reading if prepared is not None else None)
                outcome = self.handlers[verdict.kind](self.ctx, inbound)
                if self.ctx.withheld:  # say why the sender got no answer, in the message's own record
                    outcome = Outcome(outcome.state, "; ".join([outcome.reason, *self.ctx.withheld]))
                messages.settle(db, message, state=outcome.state, kind=verdict.kind, reason=outcome.reason)
            if not batch:
                self.ctx.notify_sender()
        except Exception as exc:  # noqa: BLE001 - isolation point: one message must not stop the rest
            if batch and not db.conn.in_transaction:
                raise
            self.ctx.queued_since_commit = queued_before  # this message's mail was rolled back
            return self._failed(message, msg, exc, result)
        result.settled[outcome.state] += 1
        # In a batch the batch's line says it; the audit row keeps each message's outcome.
        log.log(logging.DEBUG if batch else logging.INFO, "message #%d <%s> from %s: %s by rule %s -> %s (%s)",
                message, msg.message_id, msg.from_addr or "?", verdict.kind, verdict.rule, outcome.state,
                outcome.reason)
        return outcome.state

    def _failed(self, message: int, msg, exc: Exception, result: PollResult) -> str:
        # The row is read only now, on the rare failure path: the rollback left it as it was.
        row = messages.get(self.ctx.db, message)
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
        return "quarantined" if final else "received"

    def move_settled(self, conn: Connection) -> int:
        """Move every settled message lying in the wrong folder to its state's folder."""
        rows = self._misplaced()
        if not rows:
            return 0
        return self._relocate(self._durable_move(conn, rows, self._take_unsynced()))

    def _take_unsynced(self) -> list:
        files, self.ctx.unsynced = self.ctx.unsynced, []
        return files

    def _durable_move(self, conn: Connection, rows: list[dict], files: list) -> list[tuple]:
        """Sync the database's commits and the files they name, then move rows' messages by
        UID; return what happened per group.

        Runs on whichever thread owns the connection and writes nothing to the database (so it
        never waits for the writer's lock): _relocate records the outcome.
        """
        # The move makes the IMAP copy invisible to the next poll, so every commit it relies
        # on, and every customer card those commits name, must survive a power cut first.
        sync_to_disk(self.ctx.cfg.storage.database, files)
        groups: dict[tuple[str, int, str], list[dict]] = defaultdict(list)
        for row in rows:
            groups[(row["folder"], row["uidvalidity"], self._target(row["state"]))].append(row)
        outcomes: list[tuple] = []
        selected = None
        for (source, uidvalidity, target), group in groups.items():
            selected = source
            current = conn.select(source)
            if current != uidvalidity or any(r["uid"] < 0 for r in group):
                outcomes.append((group, target, None, None, f"{source} has a new UIDVALIDITY {current}"))
                continue
            target_validity, new_uids = conn.move([r["uid"] for r in group], target)
            outcomes.append((group, target, target_validity, new_uids, None))
        if selected is not None and selected != self.folders.inbox:
            conn.select(self.folders.inbox)  # the next search and IDLE are on the inbox
        return outcomes

    def _relocate(self, outcomes: list[tuple]) -> int:
        """Record where moved messages now lie; return how many were moved."""
        moved = 0
        for group, target, target_validity, new_uids, lost in outcomes:
            if lost:
                self._lose_location(group, target, why=lost)
                continue
            with transaction(self.ctx.db) as db:
                for r in group:
                    messages.relocate(db, r["id"], folder=target, uidvalidity=target_validity,
                                      uid=new_uids.get(r["uid"]))
            moved += len(group)
        return moved

    def _note_moves(self, moving: list[tuple[list[dict], Future]], *, wait: bool, failed_ok: bool = False) -> int:
        """Record the moves the helper finished (all of them if wait), oldest first."""
        moved = 0
        while moving and (wait or moving[0][1].done()):
            rows, future = moving.pop(0)
            if failed_ok and future.exception() is not None:
                continue
            moved += self._relocate(future.result())
        return moved

    def _misplaced(self) -> list[dict]:
        return messages.misplaced(self.ctx.db, processed=self.folders.processed,
                                  quarantine=self.folders.quarantine)

    def _count_misplaced(self) -> int:
        return messages.count_misplaced(self.ctx.db, processed=self.folders.processed,
                                        quarantine=self.folders.quarantine)

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


# A fetch round trip downloads at most this many bytes (unless one mail is larger on its own).
FETCH_BYTES = 8 * 1024 * 1024
# A backlog is moved out of the inbox in UID MOVE commands of at least this many mails (the
# last batch moves whatever is left): Dovecot's CPU per moved mail was 67-97 µs in groups of
# 100 and 37-43 µs in groups of 1,000 (3,000 reports, loopback Dovecot 2.3).
MOVE_GROUP = 1000


def fetch_batches(sizes: Mapping[int, int], count: int, max_bytes: int) -> list[list[int]]:
    """Split UIDs (ascending, with their sizes in bytes) into batches of at most count UIDs and
    max_bytes bytes; a mail larger than max_bytes is a batch of its own."""
    batches: list[list[int]] = []
    batch: list[int] = []
    total = 0
    for uid, nbytes in sizes.items():
        if batch and (len(batch) >= count or total + nbytes > max_bytes):
            batches.append(batch)
            batch, total = [], 0
        batch.append(uid)
        total += nbytes
    if batch:
        batches.append(batch)
    return batches


class _Taker:
    """Takes in prepared batches one after another for _take_in: records and processes each,
    advances the watermark, and hands what is settled to the IMAP helper to move, in groups of
    MOVE_GROUP (the last batch moves whatever is left)."""

    def __init__(self, intake: Intake, uidvalidity: int, last_uid: int, result: PollResult) -> None:
        self.intake = intake
        self.uidvalidity = uidvalidity
        self.last_uid = last_uid
        self.result = result
        self.imap: _ImapRunner | None = None
        self.moving: list[tuple[list[dict], Future]] = []  # in the order the helper runs them

    def take(self, batch: list[int], fetched: list[Fetched], prepared, last: bool = False) -> None:
        intake = self.intake
        if not isinstance(prepared, list):
            prepared = prepared.result()
        # A UID that vanished between SEARCH and FETCH must not be searched forever.
        self.last_uid = max(self.last_uid, *batch)
        intake._take_batch(intake.folders.inbox, self.uidvalidity, fetched, prepared, self.last_uid, self.result)
        self.result.moved += intake._note_moves(self.moving, wait=False)
        in_flight = {r["id"] for rows, _ in self.moving for r in rows}
        # Counted from the index after each batch; the rows (a table read each, 1.4 µs) only
        # when a group is due. What is in flight is still misplaced until recorded as moved.
        if not last and intake._count_misplaced() - len(in_flight) < MOVE_GROUP:
            return
        rows = [r for r in intake._misplaced() if r["id"] not in in_flight]
        if rows and (len(rows) >= MOVE_GROUP or last):
            self.moving.append((rows, self.imap.submit(intake._durable_move, rows, intake._take_unsynced())))


class _CpuClock:
    """CPU seconds of this thread and of the worker processes reaped since it was made."""

    def __init__(self) -> None:
        self._thread = time.thread_time()
        self._children = _children_cpu()

    def read(self) -> tuple[float, float]:
        return time.thread_time() - self._thread, _children_cpu() - self._children


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _fetch(conn: Connection, uids: list[int], size: int) -> list[Fetched]:
    return list(conn.fetch_raw(uids, size))


class _ImapRunner:
    """Runs IMAP work (fn(conn, *args)) in the order submitted: on a helper thread, or at
    once on the caller's thread when threaded is False.

    While the helper exists it alone uses the connection (imaplib is not thread-safe); the
    caller touches the connection again only after the with-block, which waits for every
    job. The jobs touch no database: they download, sync files and move.
    """

    def __init__(self, conn: Connection, *, threaded: bool) -> None:
        self.conn = conn
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="imap") if threaded else None
        self.cpu = 0.0  # seconds of CPU the helper thread spent on jobs

    def __enter__(self) -> "_ImapRunner":
        return self

    def __exit__(self, *exc_info) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)

    def submit(self, fn: Callable, *args) -> Future:
        if self.pool is not None:
            return self.pool.submit(self._on_helper, fn, args)
        future: Future = Future()
        try:
            future.set_result(fn(self.conn, *args))
        except Exception as exc:  # noqa: BLE001 - handed to whoever asks for the result
            future.set_exception(exc)
        return future

    def _on_helper(self, fn: Callable, args: tuple):
        started = time.thread_time()
        try:
            return fn(self.conn, *args)
        finally:
            self.cpu += time.thread_time() - started
