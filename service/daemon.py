"""The long-running service: IMAP IDLE intake, outbox sender and scheduler, until stopped.

Three threads, each with its own database connection:
- the main thread keeps one IMAP connection, processes what is new and waits in IDLE;
  any connection trouble is logged and retried with backoff, forever;
- the sender thread drains the outbox whenever mail is queued (or a retry is due);
- the scheduler runs timed jobs.
SIGTERM and SIGINT end all three cleanly; an interrupted IDLE is simply closed.
"""

from __future__ import annotations

import logging
import signal
import sqlite3
import threading
from collections.abc import Callable
from datetime import datetime, timezone

from .context import Context
from .errors import ConfigError
from .inbound.imap import Connection, IdleInterrupted
from .intake import Intake
from .memory import release_memory
from .outbound import smtp
from .scheduler import Scheduler

log = logging.getLogger("visitflow.daemon")

# A restored IMAP server is found within this many seconds of its return (reconnecting to a
# server that is down costs one refused TCP connection).
MAX_RECONNECT_DELAY = 5.0
# A database that cannot be written (full disk, read-only file, lock held elsewhere) is a
# different trouble: the IMAP connection stays up and the poll is retried, backing off to this.
MAX_DATABASE_DELAY = 60.0
POLL_WITHOUT_IDLE = 30.0  # seconds between polls on a server without IDLE
SENDER_WAKEUP = 30.0  # the sender also looks for due retries this often
QUIET_SECONDS = 2.0  # after this long without new mail, memory is given back


class Daemon:
    """Runs intake, sender and scheduler until stop() or a signal."""

    def __init__(self, ctx: Context, *, connect: Callable[..., Connection] = Connection) -> None:
        self.ctx = ctx
        self.connect = connect
        self.stopping = threading.Event()
        self.conn: Connection | None = None
        self._threads: list[threading.Thread] = []
        self._heap_dirty = False  # mail was processed since memory was last given back
        self.scheduler = Scheduler(ctx)

    def run(self) -> None:
        """Serve until stopped; installs SIGTERM/SIGINT handlers when run in the main thread."""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._on_signal)
            signal.signal(signal.SIGINT, self._on_signal)
        sender = threading.Thread(target=self._sender_loop, name="outbox-sender", daemon=True)
        sender.start()
        self._threads.append(sender)
        self.scheduler.start()
        log.info("visitflow running: %s on %s:%d, SMTP %s:%d", self.ctx.cfg.imap.user,
                 self.ctx.cfg.imap.host, self.ctx.cfg.imap.port, self.ctx.cfg.smtp.host, self.ctx.cfg.smtp.port)
        try:
            self._intake_loop()
        finally:
            self.stopping.set()
            self.ctx.outbox_ready.set()
            self.scheduler.shutdown()
            for thread in self._threads:
                thread.join(timeout=15)
            log.info("visitflow stopped")

    def stop(self) -> None:
        """Ask every loop to end (safe from any thread)."""
        self.stopping.set()
        self.ctx.outbox_ready.set()

    def _on_signal(self, signum, frame) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        self.stop()
        # Runs in the main thread between bytecodes: ending a blocking IDLE read here is safe.
        if self.conn is not None and self.conn.idling:
            raise IdleInterrupted()

    def _intake_loop(self) -> None:
        intake = Intake(self.ctx, stopping=self.stopping)
        delay = 1.0
        while not self.stopping.is_set():
            try:
                self.conn = self.connect(self.ctx.cfg.imap)
                try:
                    self.conn.ensure_folders([self.ctx.cfg.imap.folders.processed,
                                              self.ctx.cfg.imap.folders.quarantine])
                    log.info("IMAP connected (%s)", "IDLE" if self.conn.has_idle else "polling, no IDLE")
                    delay = 1.0
                    self._serve(intake, self.conn)
                except BaseException:
                    self.conn.broken = True  # don't wait on a LOGOUT the server may never answer
                    raise
                finally:
                    conn, self.conn = self.conn, None
                    conn.close()
            except IdleInterrupted:
                break
            except ConfigError:
                raise
            except Exception as exc:  # noqa: BLE001 - any trouble: log, back off, reconnect, forever
                if self.stopping.is_set():
                    break
                log.warning("IMAP connection lost (%s: %s); reconnecting in %.0f s",
                            type(exc).__name__, exc, delay)
                self.stopping.wait(delay)
                delay = min(delay * 2, MAX_RECONNECT_DELAY)

    def _serve(self, intake: Intake, conn: Connection) -> None:
        settings = self.ctx.cfg.imap
        db_delay = 0.0
        while not self.stopping.is_set():
            try:
                result = intake.poll(conn)
            except sqlite3.Error as exc:
                # Not the server's fault: keep the connection, say what is wrong, retry later.
                db_delay = min(max(db_delay * 2, 1.0), MAX_DATABASE_DELAY)
                log.error("database error (%s: %s) at %s; mail stays in the inbox, retrying in %.0f s",
                          type(exc).__name__, exc, self.ctx.cfg.storage.database, db_delay)
                if self.stopping.wait(db_delay):
                    return
                conn.noop()
                continue
            if db_delay:
                log.info("database writable again")
                db_delay = 0.0
            if result.fetched or result.failed:
                log.info("poll: %d fetched, %d settled %s, %d failed, %d moved", result.fetched,
                         result.processed, dict(result.settled), result.failed, result.moved)
            wait = float(settings.idle_seconds)
            if result.retry_pending:
                wait = min(wait, max(intake.seconds_to_retry(), 0.5))
            if self.stopping.is_set():
                return
            if result.fetched:
                self._heap_dirty = True
            if conn.has_idle and self._heap_dirty:
                # Give memory back once things are quiet, not while a reply is on its way.
                if not conn.idle_wait(min(wait, QUIET_SECONDS)):
                    release_memory()
                    self._heap_dirty = False
            elif conn.has_idle:
                # Every wake-up, empty or not, is followed by a search for new UIDs: a
                # keepalive can hide an EXISTS that stop() swallowed.
                conn.idle_wait(wait)
            else:
                self.stopping.wait(min(wait, POLL_WITHOUT_IDLE))
                conn.noop()

    def _sender_loop(self) -> None:
        ctx = self.ctx.for_thread()
        envelope_from = ctx.cfg.service_address
        try:
            while not self.stopping.is_set():
                self.ctx.outbox_ready.clear()
                try:
                    smtp.send_due(ctx.db, ctx.cfg.smtp, envelope_from, stopping=self.stopping)
                except sqlite3.Error as exc:
                    log.error("database error in the outbox sender (%s: %s); nothing sent, retrying in 5 s",
                              type(exc).__name__, exc)
                    self.stopping.wait(5)
                except Exception:  # noqa: BLE001 - isolation point: the sender must outlive any mail
                    log.exception("outbox sender failed; trying again shortly")
                    self.stopping.wait(5)
                self.ctx.outbox_ready.wait(self._next_due(ctx))
        finally:
            ctx.close()

    @staticmethod
    def _next_due(ctx: Context) -> float:
        row = ctx.db.execute("SELECT MIN(next_attempt_at) FROM outbox WHERE state = 'queued' AND claimed_by IS NULL").fetchone()
        if not row or not row[0]:
            return SENDER_WAKEUP
        due = datetime.fromisoformat(row[0])
        return min(SENDER_WAKEUP, max(0.05, (due - datetime.now(timezone.utc)).total_seconds()))
