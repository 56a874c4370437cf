"""How the demo talks to the service: mail into the sandbox, then wait until the service settled it.

Reports go into the service inbox with IMAP APPEND (their INTERNALDATE is the day they stand
for); mail that people send now goes through the sandbox's SMTP server, as a client's would.
``settle`` waits until the database shows each mail processed (state no longer 'received')
and the outbox sent. A running daemon does that within a second or two; when nothing moves
within ``patience`` seconds there is none, and from then on the demo processes the mail
itself, as ``visitflow poll`` does (the two never conflict: a recorded UID is never recorded
twice and each outbox row is claimed before it is sent).
"""

from __future__ import annotations

import imaplib
import os
import smtplib
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime

from imap_tools.errors import ImapToolsError

from .context import Context
from .errors import VisitflowError

LOOPBACK = ("127.0.0.1", "localhost", "::1")
MAX_SETTLE_SECONDS = 90.0  # beyond this, something is broken: say what is still waiting
START = "start it with: bash scripts/run.sh --demo (or .venv/bin/visitflow sandbox start)"
# What a mail server that is away or refuses us raises, from the standard library up.
MAIL_TROUBLE = (OSError, imaplib.IMAP4.error, smtplib.SMTPException, ImapToolsError, VisitflowError)


class DemoError(VisitflowError):
    """The demo cannot run or cannot go on: one line saying why and what to do."""


class ServiceMailbox:
    """The sandbox as the demo uses it; ``say`` prints a line when the demo starts processing itself."""

    def __init__(self, ctx: Context, *, say: Callable[[str], None], patience: float) -> None:
        self.ctx = ctx
        self.cfg = ctx.cfg
        self.say = say
        self.patience = patience
        self.in_process = False

    def check(self) -> None:
        """Refuse a mail server off this machine; make sure the sandbox answers; export its password."""
        imap, smtp = self.cfg.imap, self.cfg.smtp
        for key, host in (("imap.host", imap.host), ("smtp.host", smtp.host)):
            if host not in LOOPBACK:
                raise DemoError(f"the demo fills a mail sandbox with made-up mail: {key} is {host}, not this machine "
                                "(127.0.0.1); run it with the sandbox's config")
        password = sandbox_password(self.cfg)
        if password is None:
            raise DemoError(f"no sandbox password (${imap.password_env} or var/sandbox/password): {START}")
        if imap.password_env and not os.environ.get(imap.password_env):
            os.environ[imap.password_env] = password  # this process's own polling and sending need it
        try:
            self._imap().close()
            with smtplib.SMTP(smtp.host, smtp.port, timeout=10) as client:
                client.noop()
        except ImapToolsError as exc:  # the server answered, but refused the login
            raise DemoError(f"the mail sandbox (IMAP {imap.host}:{imap.port}) refused {imap.user}'s login "
                            f"({_short(exc)}): its password is in var/sandbox/password beside the config; "
                            f"${imap.password_env}, when set, must hold the same") from None
        except MAIL_TROUBLE as exc:
            raise DemoError(f"the mail sandbox is not reachable (IMAP {imap.host}:{imap.port}, SMTP {smtp.host}:"
                            f"{smtp.port}: {_short(exc)}): {START}") from None

    def append(self, mails: Sequence[tuple[bytes, datetime]]) -> None:
        """Put raw mails into the service inbox, each with its INTERNALDATE (the server's receipt time)."""
        try:
            conn = self._imap()
            try:
                for raw, received in mails:
                    typ, data = conn.box.client.append(self.cfg.imap.folders.inbox, None, received, raw)
                    if typ != "OK":
                        raise DemoError(f"IMAP APPEND to {self.cfg.imap.folders.inbox} refused: {data!r}")
            finally:
                conn.close()
        except DemoError:
            raise
        except MAIL_TROUBLE as exc:
            raise DemoError(f"lost the mail sandbox (IMAP {self.cfg.imap.host}:{self.cfg.imap.port}: {_short(exc)}): "
                            f"{START}") from None

    def send(self, sender: str, raw: bytes) -> None:
        """Submit one mail from ``sender`` to the service address through the sandbox's SMTP server."""
        smtp = self.cfg.smtp
        try:
            with smtplib.SMTP(smtp.host, smtp.port, timeout=30) as client:
                client.sendmail(sender, [self.cfg.service_address], raw)
        except MAIL_TROUBLE as exc:
            raise DemoError(f"lost the mail sandbox (SMTP {smtp.host}:{smtp.port}: {_short(exc)}): {START}") from None

    def settle(self, message_ids: Sequence[str]) -> Counter:
        """Wait until these mails are processed and the outbox is empty; return their states counted."""
        ids = [m.strip("<>") for m in message_ids]
        started = time.monotonic()
        while True:
            states = self._states(ids)
            if states is not None and not self._queued():
                return Counter(states)
            waited = time.monotonic() - started
            if not self.in_process and waited > self.patience:
                self.in_process = True
                self.say(f"  no daemon processed the mail within {self.patience:g} s: processing it here, "
                         "as `visitflow poll` does")
            if self.in_process:
                self.poll_here()
            elif states is not None:
                self.send_outbox()  # mail the demo queued itself (jobs) is ours to send
            if waited > MAX_SETTLE_SECONDS:
                raise DemoError(self._stuck(ids))
            time.sleep(0.2)

    def poll_here(self) -> None:
        """Process what waits in the inbox and send the outbox, once (`visitflow poll`)."""
        from .inbound.imap import Connection
        from .intake import Intake

        conn = Connection(self.cfg.imap)
        try:
            conn.ensure_folders([self.cfg.imap.folders.processed, self.cfg.imap.folders.quarantine])
            Intake(self.ctx).poll(conn)
        finally:
            conn.close()
        self.send_outbox()

    def send_outbox(self) -> int:
        """Send what is due in the outbox now (rows are claimed, so a daemon never sends them too)."""
        from .outbound import smtp

        return smtp.send_due(self.ctx.db, self.cfg.smtp, self.cfg.service_address)

    def outbox_raw(self, message_id: str) -> bytes:
        """Return the exact bytes of a mail the service sent (to reply to it as its recipient would)."""
        row = self.ctx.db.execute("SELECT raw FROM outbox WHERE message_id = ?", [message_id.strip("<>")]).fetchone()
        if row is None:
            raise DemoError(f"the service's mail <{message_id}> is not in the outbox")
        return bytes(row[0])

    def message_row(self, message_id: str) -> int:
        """Return the database id of the first recorded copy of an inbound mail."""
        return self.ctx.db.execute("SELECT MIN(id) FROM messages WHERE message_id = ?",
                                   [message_id.strip("<>")]).fetchone()[0]

    # ------------------------------------------------------------------ helpers

    def _imap(self):
        from .inbound.imap import Connection

        return Connection(self.cfg.imap)

    def _states(self, ids: Sequence[str]) -> list[str] | None:
        """Return the state of each mail (its first copy), or None while one is missing or unprocessed."""
        states = []
        for message_id in ids:
            row = self.ctx.db.execute("SELECT state FROM messages WHERE message_id = ? ORDER BY id LIMIT 1",
                                      [message_id]).fetchone()
            if row is None or row[0] == "received":
                return None
            states.append(row[0])
        return states

    def _queued(self) -> int:
        return self.ctx.db.execute("SELECT count(*) FROM outbox WHERE state = 'queued'").fetchone()[0]

    def _stuck(self, ids: Sequence[str]) -> str:
        missing = [m for m in ids if self._states([m]) is None]
        if missing:
            return (f"{len(missing)} mail(s) still not processed after {MAX_SETTLE_SECONDS:.0f} s (first <{missing[0]}>); "
                    "see `visitflow status` and the daemon's log")
        error = self.ctx.db.execute("SELECT last_error FROM outbox WHERE state = 'queued' AND last_error IS NOT NULL "
                                    "ORDER BY id LIMIT 1").fetchone()
        return (f"{self._queued()} mail(s) still queued in the outbox after {MAX_SETTLE_SECONDS:.0f} s"
                + (f" ({error[0]})" if error else "") + "; is the sandbox's Postfix running? see `visitflow status`")


def sandbox_password(cfg) -> str | None:
    """Return the sandbox password: the configured environment variable, else var/sandbox/password."""
    env = cfg.imap.password_env
    if env and os.environ.get(env):
        return os.environ[env]
    path = cfg.path.parent / "var" / "sandbox" / "password"
    return path.read_text().strip() if path.exists() else None


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
