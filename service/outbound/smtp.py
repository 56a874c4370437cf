"""Deliver the outbox over SMTP, with retry and backoff, resuming where it stopped.

A mail counts as sent only after the server accepted it; a crash in between sends it again
with the same Message-ID. Temporary failures (4xx, connection trouble) back off; a permanent
refusal (5xx for every recipient) marks the mail failed with the server's answer.
"""

from __future__ import annotations

import base64
import json
import logging
import smtplib
import ssl
from datetime import datetime, timedelta, timezone

from sqlite_utils import Database

from ..config import MailServer
from ..errors import connection_problem
from ..store.db import now, transaction

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 30  # with the backoff below: retried for about a day and a half
BATCH = 50


class TlsError(smtplib.SMTPException):
    """TLS with the SMTP server failed (certificate, host name, handshake); retried like any
    connection trouble, but named clearly in the outbox's last_error and the log."""


def connect(server: MailServer) -> smtplib.SMTP:
    """Open an SMTP connection as the config says: plain, STARTTLS or TLS; password or XOAUTH2.

    For starttls and tls the server's certificate and host name are verified against
    smtp.ca_file, or the system's CAs when it is unset; a failure raises TlsError.
    """
    where = f"SMTP {server.host}:{server.port} ({server.security})"
    context = None
    if server.security in ("tls", "starttls"):
        try:
            context = server.ssl_context()
        except (OSError, ValueError) as exc:
            raise TlsError(f"cannot connect to {where}: smtp.ca_file {server.ca_file} cannot be loaded: "
                           f"{exc}") from exc
    try:
        if server.security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(server.host, server.port, timeout=server.timeout,
                                                   context=context)
        else:
            client = smtplib.SMTP(server.host, server.port, timeout=server.timeout)
    except ssl.SSLError as exc:
        raise TlsError(f"cannot connect to {where}: {connection_problem(exc, ca_file=server.ca_file, key='smtp')}") from exc
    try:
        client.ehlo()
        if server.security == "starttls":
            try:
                client.starttls(context=context)
            except (ssl.SSLError, smtplib.SMTPNotSupportedError) as exc:
                raise TlsError(f"cannot connect to {where}: {connection_problem(exc, ca_file=server.ca_file, key='smtp')}") from exc
            client.ehlo()
        if server.user:
            secret = server.secret()
            if server.auth == "xoauth2":
                token = f"user={server.user}\1auth=Bearer {secret}\1\1"
                client.docmd("AUTH", "XOAUTH2 " + base64.b64encode(token.encode()).decode())
            elif secret is not None:
                client.login(server.user, secret)
    except BaseException:
        client.close()
        raise
    return client


def backoff(attempts: int) -> timedelta:
    """Return how long to wait before attempt number attempts+1: 2 s doubling to an hour."""
    return timedelta(seconds=min(2 ** attempts, 3600))


def due(db: Database, limit: int = BATCH) -> list[dict]:
    """Return queued outbox rows whose next attempt is due, oldest first."""
    return list(db.query(
        "SELECT id, message_id, sender, recipients, raw, attempts FROM outbox "
        "WHERE state = 'queued' AND next_attempt_at <= ? ORDER BY id LIMIT ?", [now(), limit]))


def send_due(db: Database, server: MailServer, envelope_from: str) -> int:
    """Send every due outbox mail over one connection; returns how many were accepted."""
    rows = due(db)
    if not rows:
        return 0
    sent = 0
    try:
        client = connect(server)
    except (OSError, smtplib.SMTPException) as exc:
        # TlsError already names host, port, mode and reason; the rest gain them here.
        error = str(exc) if isinstance(exc, TlsError) else \
            f"cannot connect to SMTP {server.host}:{server.port} ({server.security}): {exc}"
        for row in rows:
            _failed_attempt(db, row, error, permanent=False)
        return 0
    try:
        while rows:
            for row in rows:
                if _send_one(db, client, row, envelope_from):
                    sent += 1
            rows = due(db)
    except (OSError, smtplib.SMTPException) as exc:
        # The failing row was already rescheduled; the rest wait for the next round.
        log.warning("SMTP connection lost after %d sent: %s", sent, exc)
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()
    return sent


def _send_one(db: Database, client: smtplib.SMTP, row: dict, envelope_from: str) -> bool:
    recipients = json.loads(row["recipients"])
    try:
        refused = client.sendmail(envelope_from, recipients, row["raw"])
    except smtplib.SMTPRecipientsRefused as exc:
        permanent = all(code >= 500 for code, _ in exc.recipients.values())
        _failed_attempt(db, row, f"every recipient refused: {exc.recipients}", permanent=permanent)
        return False
    except smtplib.SMTPResponseException as exc:
        _failed_attempt(db, row, f"SMTP {exc.smtp_code}: {exc.smtp_error!r}",
                        permanent=exc.smtp_code >= 500)
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            raise
        return False
    except (OSError, smtplib.SMTPException) as exc:
        _failed_attempt(db, row, f"SMTP connection failed: {exc}", permanent=False)
        raise
    with transaction(db):
        db["outbox"].update(row["id"], {"state": "sent", "sent_at": now(),
                                        "attempts": row["attempts"] + 1,
                                        "last_error": json.dumps(refused) if refused else None})
    log.info("outbox %s: sent <%s> to %s", row["id"], row["message_id"], ", ".join(recipients))
    return True


def _failed_attempt(db: Database, row: dict, error: str, *, permanent: bool) -> None:
    attempts = row["attempts"] + 1
    give_up = permanent or attempts >= MAX_ATTEMPTS
    next_at = datetime.now(timezone.utc) + backoff(attempts)
    with transaction(db):
        db["outbox"].update(row["id"], {
            "attempts": attempts,
            "state": "failed" if give_up else "queued",
            "last_error": error,
            "next_attempt_at": next_at.isoformat(timespec="milliseconds"),
        })
    level = logging.ERROR if give_up else logging.WARNING
    log.log(level, "outbox %s: <%s> %s (attempt %d%s)", row["id"], row["message_id"], error,
            attempts, ", giving up" if give_up else f", next at {next_at:%H:%M:%S}")
